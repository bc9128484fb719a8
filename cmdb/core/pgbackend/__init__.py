"""PostgreSQL database backend with a health check that costs no round trip when nothing is wrong."""
