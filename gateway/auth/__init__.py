"""Who is calling: the FastAPI dependencies that authenticate clients and borrowers."""
