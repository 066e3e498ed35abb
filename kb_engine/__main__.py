from kb_engine.cli.main import main

main()
