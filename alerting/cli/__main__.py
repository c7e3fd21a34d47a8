from alerting.cli import main

main()
