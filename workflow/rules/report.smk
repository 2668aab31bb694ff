rule report:
    input:
        tables=get_tables(),
        provenance="results/provenance.json",
    output:
        claims=report(
            "results/claims.csv", caption="../report/claims.rst", category="Claims"
        ),
        summary="results/summary.md",
        html=report(
            "results/report/index.html",
            caption="../report/html.rst",
            category="Report",
        ),
    log:
        "logs/report.log",
    conda:
        "../../environment.yml"
    shell:
        "coresweep report --results results 2> {log}"
