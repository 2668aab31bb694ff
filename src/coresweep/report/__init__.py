"""Tables -> what people read: claims table, standalone HTML, Snakemake's report, comparisons.

build (the entry point), inputs (what a results folder holds), claims_table, figures (which
claim shows which plot), quality, html, native (files for `snakemake --report`), summary,
compare (two runs side by side), plots/ (one module per experiment).
"""
