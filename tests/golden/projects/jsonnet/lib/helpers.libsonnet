{
  labels(name):: { app: name, 'managed-by': 'kapitan' },
}
