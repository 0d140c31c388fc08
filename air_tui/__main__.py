from air_tui.cli import main

raise SystemExit(main())
