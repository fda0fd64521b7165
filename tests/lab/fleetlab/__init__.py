"""fleetlab: a local fleet of real Debian hosts (systemd-nspawn) with apt, dnf and zypper
package management, fed by package repositories built from the catalog in catalog.py.

Test infrastructure only; it is not shipped in the collection."""
