from cinefoundry.cli import main

main()
