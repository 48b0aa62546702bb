from finintel.cli.app import main

main()
