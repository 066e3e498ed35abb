from kb_engine.cli import main

main()
