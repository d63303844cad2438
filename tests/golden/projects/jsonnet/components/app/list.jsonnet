[{ kind: 'A', n: 1 }, { kind: 'B', n: 2 }]
