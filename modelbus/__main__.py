from modelbus.cli import main

raise SystemExit(main())
