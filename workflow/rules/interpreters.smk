# One environment per interpreter of `interpreters:` but the current one, made once by uv
# (`uv venv`, then `uv pip install -e <checkout>`) under .venvs/<label>/ and reused by every
# later run: the marker (the new interpreter's version and build) is the output, the
# folder itself is not, so Snakemake never deletes an environment. A failure names the
# config key (interpreters[i]) in the log, before any of that interpreter's points runs.
rule interpreter_environment:
    output:
        ".venvs/{interpreter}/coresweep-env.json",
    log:
        "logs/interpreters/{interpreter}.log",
    wildcard_constraints:
        interpreter="[A-Za-z0-9_.+-]+",
    conda:
        "../../environment.yml"
    params:
        request=get_environment_request,
        key=get_environment_key,
    shell:
        "coresweep environment --request {params.request:q} --key {params.key:q} "
        "--out {output} 2> {log}"
