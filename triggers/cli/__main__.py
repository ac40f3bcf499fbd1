from triggers.cli import main

main()
