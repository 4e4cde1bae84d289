"""Voice embeddings: the encoder protocol and L2 normalisation (``base``), Resemblyzer's
speaker encoder and the factory ``load_encoder`` (``encoders``), HuBERT from a hub id or
a local folder (``hubert``, imported only when asked for).

It takes voiced 16 kHz audio and returns vectors; it does not decode, cut or search.
"""
