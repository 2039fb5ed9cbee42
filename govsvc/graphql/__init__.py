"""GraphQL adapter: schema assembly, context, errors, scalars. Resolvers stay thin."""
