from amp_dbt_monitor.cli import cli

if __name__ == "__main__":
    cli()
