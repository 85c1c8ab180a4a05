"""The benchmark of issue 5: what a play costs, from a two-hander to five Hamlets (`make bench`)."""
