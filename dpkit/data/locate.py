"""Find the four IDX files of a dataset on disk, or download them with pooch.

Search order, first complete folder wins:

1. ``data_dir`` when the caller passes one: ``data_dir/<name>/``, then
   ``data_dir`` itself. Nothing else is searched, and downloads go to
   ``data_dir/<name>/``.
2. The folder in the environment variable ``DPKIT_DATA``: ``$DPKIT_DATA/<name>/``,
   then ``$DPKIT_DATA`` itself.
3. ``data/<name>/`` of a source checkout (a ``data/`` folder holding README.md
   next to pyproject.toml, one level above the dpkit package).
4. ``/usr/share/datasets/<name>/``, where Debian packages such as
   ``dataset-fashion-mnist`` install the files.
5. ``<user cache>/dpkit/<name>/`` from :func:`platformdirs.user_cache_dir`, when
   dpkit is installed rather than run from a checkout.

A folder counts only when it contains all four files. Every file is checked
against the SHA-256 registry in :mod:`dpkit.data.sources` before it is read,
and a mismatch raises :class:`ChecksumError` instead of falling through to
the next folder, so that a damaged copy never goes unnoticed. When no folder is
complete, the files are downloaded into folder 3 (checkout) or 5 (installed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs
import pooch
import requests

from dpkit.data.sources import IdxSource

logger = logging.getLogger("dpkit.data")

#: Environment variable naming an extra folder to search first.
DATA_ENV_VAR = "DPKIT_DATA"

#: Root of the Debian dataset packages; tests point it elsewhere.
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")

#: Repository root when dpkit runs from a source checkout (dpkit/data/locate.py -> root).
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class DatasetNotFoundError(FileNotFoundError):
    """No folder contains the dataset's files and downloading was disabled or failed."""


class ChecksumError(ValueError):
    """A dataset file on disk or a download has an unexpected SHA-256 digest."""


def checkout_data_root() -> Path | None:
    """Return the ``data/`` folder of a source checkout, or None for an installed package."""
    data_root = REPOSITORY_ROOT / "data"
    is_checkout = (REPOSITORY_ROOT / "pyproject.toml").is_file() and (data_root / "README.md").is_file()
    return data_root if is_checkout else None


def cache_root() -> Path:
    """Return the per-user cache folder that an installed dpkit downloads into."""
    return Path(platformdirs.user_cache_dir("dpkit"))


def search_folders(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """List the folders searched for dataset ``name``, in order (see the module docstring)."""
    if data_dir is not None:
        return [Path(data_dir) / name, Path(data_dir)]

    folders = []
    env_folder = os.environ.get(DATA_ENV_VAR)
    if env_folder:
        folders += [Path(env_folder) / name, Path(env_folder)]
    checkout = checkout_data_root()
    if checkout is not None:
        folders.append(checkout / name)
    folders.append(SYSTEM_DATA_ROOT / name)
    if checkout is None:
        folders.append(cache_root() / name)
    return folders


def download_folder(name: str, data_dir: str | Path | None = None) -> Path:
    """Return the folder that downloads of dataset ``name`` go to."""
    if data_dir is not None:
        return Path(data_dir) / name
    checkout = checkout_data_root()
    return (checkout if checkout is not None else cache_root()) / name


def locate_files(
    source: IdxSource, *, data_dir: str | Path | None = None, download: bool = True
) -> dict[str, Path]:
    """Return the path of each of the dataset's files, checked against the registry.

    Parameters
    ----------
    source : IdxSource
        Mirrors and accepted SHA-256 digests of the dataset.
    data_dir : str or Path, optional
        Search only this folder and download into ``data_dir/<name>/``.
    download : bool
        Whether to download when no folder contains all the files.

    Returns
    -------
    dict of str to Path
        File name to path, one entry per file in ``source.sha256``.

    Raises
    ------
    ChecksumError
        When a file found on disk, or every mirror's download of a file, has
        the wrong SHA-256. A failed download is deleted by pooch.
    DatasetNotFoundError
        When no folder contains the files and ``download`` is False or every
        mirror failed. The message lists the folders searched and how to fix it.
    """
    filenames = list(source.sha256)
    folders = search_folders(source.name, data_dir)
    for folder in folders:
        present = [filename for filename in filenames if (folder / filename).is_file()]
        if len(present) < len(filenames):
            logger.debug("%s: %s has %d of %d files", source.name, folder, len(present), len(filenames))
            continue
        paths = {filename: folder / filename for filename in filenames}
        for filename, path in paths.items():
            verify_sha256(path, source.sha256[filename])
        logger.info("Found %s in %s", source.name, folder)
        return paths

    target = download_folder(source.name, data_dir)
    if not download:
        raise DatasetNotFoundError(_not_found_message(source, folders, target, "download=False was passed"))
    paths = _download(source, folders, target)
    logger.info("Downloaded %s to %s", source.name, target)
    return paths


def verify_sha256(path: Path, accepted: tuple[str, ...]) -> None:
    """Raise :class:`ChecksumError` unless the SHA-256 of ``path`` is one of ``accepted``."""
    actual = pooch.file_hash(str(path), alg="sha256")
    if actual in accepted:
        return
    raise ChecksumError(
        f"{path} has SHA-256 {actual}, but the expected value is "
        f"{' or '.join(accepted)}. The file is damaged or is not the published version, "
        f"so dpkit will not use it. Delete it, so that dpkit searches the next folder "
        f"or downloads a fresh copy, or put good copies in another folder and pass it "
        f"as data_dir or name it in the environment variable {DATA_ENV_VAR}."
    )


def _download(source: IdxSource, folders: list[Path], target: Path) -> dict[str, Path]:
    """Fetch each file with pooch, trying the mirrors in order."""
    paths = {}
    for filename in source.sha256:
        failures: list[str] = []
        checksum_failed = False
        for mirror in source.mirrors:
            url = mirror + filename
            try:
                # pooch writes to a temporary file and moves it into place only
                # when the hash matches, so a partial or corrupt file is never kept.
                fetched = pooch.retrieve(
                    url,
                    known_hash=f"sha256:{source.download_hash(filename)}",
                    fname=filename,
                    path=target,
                    progressbar=False,
                )
            except ValueError as error:
                checksum_failed = True
                failures.append(f"{url}: {error}")
                logger.warning("Rejected download %s: %s", url, error)
                continue
            except (requests.exceptions.RequestException, OSError) as error:
                failures.append(f"{url}: {error}")
                logger.warning("Download of %s failed: %s", url, error)
                continue
            paths[filename] = Path(fetched)
            break
        else:
            reasons = "\n".join(f"  {failure}" for failure in failures)
            if checksum_failed:
                raise ChecksumError(
                    f"Every download of {filename} for {source.name} failed; no file was kept.\n"
                    f"{reasons}\n"
                    f"A download with the wrong SHA-256 means the mirror serves a different "
                    f"or damaged file. Fetch the files by hand from {source.homepage} and "
                    f"put them in {target}."
                )
            raise DatasetNotFoundError(
                _not_found_message(source, folders, target, f"the download failed:\n{reasons}")
            )
    return paths


def _not_found_message(source: IdxSource, folders: list[Path], target: Path, reason: str) -> str:
    listed_folders = "\n".join(f"  {folder}" for folder in folders)
    listed_files = ", ".join(source.sha256)
    listed_urls = " or ".join(source.mirrors)
    lines = [
        f"Dataset {source.name!r} was not found, and it was not downloaded because {reason}",
        f"Searched these folders for the files {listed_files}:",
        listed_folders,
        f"To fix this, download the four files from {listed_urls} (see {source.homepage}) "
        f"and put them, still gzip-compressed, in {target}, or in any folder that you "
        f"then name in the environment variable {DATA_ENV_VAR}.",
    ]
    if source.debian_package is not None:
        lines.append(
            f"On Debian or Ubuntu, `apt install {source.debian_package}` puts them in "
            f"{SYSTEM_DATA_ROOT / source.name}."
        )
    return "\n".join(lines)
