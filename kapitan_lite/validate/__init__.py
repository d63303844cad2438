"""kcompile validate: the compiled Kubernetes objects against their schemas, offline."""
