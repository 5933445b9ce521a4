from authcli.main import main

raise SystemExit(main())
