from hideseek.cli.main import main

raise SystemExit(main())
