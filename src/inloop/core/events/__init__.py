"""``inloop.core.events`` is ``inloop.events`` under seed 002's longer path, so that
``from inloop.core.events.agent.hitl.human_in_the_loop_input import HumanInTheLoopInput``
works as the seed writes it. The modules there only re-export, so the classes are the same
objects whichever path imported them.
"""

from inloop import events

__path__ = events.__path__
