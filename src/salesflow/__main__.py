from salesflow.cli.entry import main

main()
