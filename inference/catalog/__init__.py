"""A catalogue as it is searched: the self-checking folder (``folder``: manifest,
embeddings, faiss index, styles, reference spectrograms), the matching space and the
search (``matching``), and the resemblance and identity scales (``resemblance``).

It embeds no audio and writes no new catalogue: making one is ``inference.build``'s.
"""
