from govrl.cli import main

main()
