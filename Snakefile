# Entry point at the repository root, so `snakemake --cores N` works here. The real workflow
# is workflow/Snakefile; a plain `include:` would drop its default target (rule all).
workflow.include("workflow/Snakefile", overwrite_default_target=True)
