"""Repository listers for regex mappings: what repositories a source has.

`catalog` (the registry's `/v2/_catalog`), `dockerhub` (Docker Hub's API: the `auth`
user's repositories) and `index` (an index search). `RepositoryLists` caches their answers
for `lister.cacheDuration`, per source; the app owns one per config.
"""
