"""C2PA content credentials for output videos: the credentials layer's own package (SignVideo's logic)."""
