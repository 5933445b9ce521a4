from authcli.cli import main

raise SystemExit(main())
