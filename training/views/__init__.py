"""Server-rendered training pages, one module per area. Each view is a shell: one selector or service, one template."""
