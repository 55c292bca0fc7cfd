"""A workflow run's page: its graph with the current node marked and the path taken so
far (SVG drawn on the server by ``inloop.workflows.drawing``), the steps, its requests."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from inloop.server.api.deps import ServicesDep
from inloop.server.desk.auth import DeskRoute, DeskUser, render
from inloop.workflows.drawing import Marks, svg

router = APIRouter(route_class=DeskRoute)


@router.get("/workflows/runs/{run_id}")
async def workflow_run(
    request: Request, run_id: str, session: DeskUser, services: ServicesDep
) -> Response:
    view = await services.workflows.for_desk(session.principal, run_id)
    workflow = services.workflows.compile(view.definition, None)
    marks = Marks.of_path(
        workflow, [(s.node, s.edge) for s in view.path], [p.node for p in view.current]
    )
    # xml.etree escaped every label and attribute of the drawing: it is safe as markup.
    graph = Markup(svg(workflow, marks, element_id="run-graph"))  # noqa: S704
    edges = {
        e.index: e.label for n in workflow.nodes.values() for e in n.outgoing if e.index is not None
    }
    requests = {r.id: r for r in view.requests}
    return render(
        request,
        "workflow_run.html",
        {
            "view": view,
            "workflow": workflow,
            "graph": graph,
            "edges": edges,
            "requests": requests,
            "now": services.clock.now(),
            "is_admin": session.principal.is_admin,
        },
    )
