"""Pictures of papers: a Hugging Face thumbnail, else the top of the PDF's first page.

``settings`` (the ``[pictures]`` settings), ``render`` (the child process that turns untrusted
bytes into a small WebP), ``sandbox`` (runs that child under memory and time caps), ``fetch``
(the worker's round: which papers, fetched politely, rendered, stored).
"""
