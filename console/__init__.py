"""Who acts: the `qmas` command line (Typer). Later also the web console and REST API."""
