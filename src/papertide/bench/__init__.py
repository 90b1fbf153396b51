"""The benchmarks behind `papertide bench ...`, and the generated papers they (and tests) use."""
