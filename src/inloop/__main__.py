from inloop.cli import main

main()
