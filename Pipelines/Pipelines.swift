// Pipelines: stages, manifests, runner, ledger, adapters.
