"""Stand-in for the get-pip.py bootstrap that ansible-test downloads from ci-files.testing.ansible.com.

That host is unreachable here (only package registries are), so `make sanity` copies this file to
~/.ansible/test/cache/get_pip_<version>.py, where ansible-test looks before downloading. It does
what get-pip does, from what is reachable: the interpreter's bundled pip (ensurepip) installs the
exact packages ansible-test asks for (pip==X, setuptools==Y, ...) from PyPI.
"""
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"],
                          stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
