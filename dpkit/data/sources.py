"""Download locations of the IDX datasets and the SHA-256 of every accepted file.

The first hash of each file is that of the upstream download. Fashion-MNIST
also accepts the files of Debian's ``dataset-fashion-mnist`` package: Debian
recompressed them, so the ``.gz`` bytes differ from upstream, but the
decompressed IDX files are identical. data/README.md lists where each hash
was taken from.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The four IDX files of an MNIST-style dataset, keyed by their role.
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class IdxSource:
    """Download locations and checksums of one IDX dataset.

    Attributes
    ----------
    name : str
        Dataset name as passed to :func:`dpkit.data.load`.
    mirrors : tuple of str
        Base URLs ending in ``/``, tried in order; each serves the four files.
    sha256 : dict of str to tuple of str
        For each file name, the accepted SHA-256 hex digests. The first one is
        the digest of the file the mirrors serve and is the one a download must match.
    homepage : str
        Page that describes the dataset and its licence.
    licence : str
        Licence of the data.
    debian_package : str or None
        Debian package that installs the files in /usr/share/datasets/<name>.
    """

    name: str
    mirrors: tuple[str, ...]
    sha256: dict[str, tuple[str, ...]]
    homepage: str
    licence: str
    debian_package: str | None = None

    def download_hash(self, filename: str) -> str:
        """Return the SHA-256 that a downloaded ``filename`` must have."""
        return self.sha256[filename][0]


FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256={
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",  # Debian
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",  # Debian
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",  # Debian
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",  # Debian
        ),
    },
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    licence="MIT (Zalando SE)",
    debian_package="dataset-fashion-mnist",
)

MNIST = IdxSource(
    name="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    sha256={
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
    homepage="http://yann.lecun.com/exdb/mnist/",
    licence="CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
)

#: The IDX datasets by name. Tests replace entries to point at a local server.
IDX_SOURCES: dict[str, IdxSource] = {source.name: source for source in (FASHION_MNIST, MNIST)}
