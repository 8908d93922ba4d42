"""Build and test machinery of the repository (not part of the installed ``course_lib`` package)."""
