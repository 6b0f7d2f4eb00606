"""What is wrong with the database, and what to do (docs/contract.md §8): the causes, each with what
it means and the operator's action, in English (logs, `doctor`) and in French (the status page).

Pure: service/db/errors.py decides which cause a failure is; this module only says it.
`{where}` in a text is the database's label (user@host:port/database, never a password).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Cause(enum.Enum):
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    NOT_ALLOWED = "not_allowed"
    TLS_REQUIRED = "tls_required"
    TLS_UNAVAILABLE = "tls_unavailable"
    TLS_CERTIFICATE = "tls_certificate"
    AUTH = "auth"
    ROLE_MISSING = "role_missing"
    DATABASE_MISSING = "database_missing"
    PRIVILEGES = "privileges"
    SCHEMA_MISSING = "schema_missing"
    READ_ONLY = "read_only"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    SERVER_DISK_FULL = "server_disk_full"
    SERVER_UNAVAILABLE = "server_unavailable"
    CONNECTION_LOST = "connection_lost"
    OTHER = "other"

    @property
    def advice(self) -> Advice:
        return ADVICE[self]


@dataclass(frozen=True, slots=True)
class Advice:
    meaning: str  # English: what the network or PostgreSQL says
    todo: str  # English: what the operator does
    titre: str  # French: the cause, as the status page's headline says it
    a_faire: str  # French: the action


ADVICE: dict[Cause, Advice] = {
    Cause.DNS: Advice(
        "the host name in DATABASE_URL does not resolve",
        "fix the host in DATABASE_URL",
        "le nom d'hôte de la base ne se résout pas",
        "corriger l'hôte dans DATABASE_URL",
    ),
    Cause.REFUSED: Advice(
        "connection refused: nothing listens at the database's host and port",
        "start PostgreSQL, or fix the port in DATABASE_URL",
        "connexion refusée : aucun serveur PostgreSQL n'écoute à cette adresse",
        "démarrer PostgreSQL, ou corriger le port dans DATABASE_URL",
    ),
    Cause.TIMEOUT: Advice(
        "the database did not answer in time (DB_CONNECT_TIMEOUT): packets are dropped on the way",
        "a firewall or the provider's IP allowlist drops this server: authorise its address "
        '(e.g. OVH Cloud DB, "Autoriser les IP")',
        "la base ne répond pas dans le délai (DB_CONNECT_TIMEOUT)",
        "un pare-feu ou la liste d'IP autorisées de l'hébergeur bloque ce serveur : autoriser "
        "son adresse (par exemple OVH Cloud DB, « Autoriser les IP »)",
    ),
    Cause.NOT_ALLOWED: Advice(
        "pg_hba.conf has no entry for this host, user and database",
        "authorise this server's address for that user and database (pg_hba.conf, or the "
        "provider's allowlist)",
        "le serveur PostgreSQL n'autorise pas ce serveur (pg_hba.conf)",
        "autoriser l'adresse de ce serveur pour cet utilisateur et cette base (pg_hba.conf, ou "
        "la liste d'accès de l'hébergeur)",
    ),
    Cause.TLS_REQUIRED: Advice(
        "the server accepts only encrypted connections",
        "add sslmode=require (or stronger) to DATABASE_URL",
        "le serveur n'accepte que les connexions chiffrées (TLS)",
        "ajouter sslmode=require (ou plus strict) à DATABASE_URL",
    ),
    Cause.TLS_UNAVAILABLE: Advice(
        "DATABASE_URL asks for TLS and the server offers none",
        "enable TLS on the server, or change sslmode in DATABASE_URL",
        "DATABASE_URL demande TLS et le serveur ne le propose pas",
        "activer TLS sur le serveur, ou changer sslmode dans DATABASE_URL",
    ),
    Cause.TLS_CERTIFICATE: Advice(
        "the server's certificate fails verification",
        "give the provider's CA in sslrootcert, and check the host name in DATABASE_URL",
        "le certificat du serveur ne peut pas être vérifié",
        "indiquer le certificat de l'autorité de l'hébergeur dans sslrootcert, et vérifier le "
        "nom d'hôte",
    ),
    Cause.AUTH: Advice(
        "password authentication failed",
        "fix the password in DATABASE_URL",
        "authentification refusée : mot de passe incorrect",
        "corriger le mot de passe dans DATABASE_URL",
    ),
    Cause.ROLE_MISSING: Advice(
        "the role (user) in DATABASE_URL does not exist",
        "create the role, or fix the user in DATABASE_URL",
        "l'utilisateur de DATABASE_URL n'existe pas sur le serveur",
        "créer cet utilisateur (rôle), ou corriger l'utilisateur dans DATABASE_URL",
    ),
    Cause.DATABASE_MISSING: Advice(
        "the database named in DATABASE_URL does not exist",
        "fix the database's name in DATABASE_URL",
        "la base nommée dans DATABASE_URL n'existe pas",
        "corriger le nom de la base dans DATABASE_URL",
    ),
    Cause.PRIVILEGES: Advice(
        "permission denied",
        "grant the service's role what it needs: {grants}",
        "droits insuffisants pour l'utilisateur de la base",
        "donner les droits nécessaires : {grants}",
    ),
    Cause.SCHEMA_MISSING: Advice(
        "the pointage tables are missing or incomplete",
        "run sql/schema_pointage.sql (pgAdmin, psql) or `python -m service db apply`",
        "des objets du schéma de pointage manquent dans la base",
        "exécuter sql/schema_pointage.sql (pgAdmin, psql) ou « python -m service db apply »",
    ),
    Cause.READ_ONLY: Advice(
        "the server accepts no writes (a standby after a failover, or a read-only database)",
        "point DATABASE_URL at the primary, or list all hosts with target_session_attrs=read-write",
        "la base n'accepte pas d'écriture (serveur de secours après bascule, ou base en lecture "
        "seule)",
        "faire pointer DATABASE_URL vers le serveur principal, ou lister tous les hôtes avec "
        "target_session_attrs=read-write",
    ),
    Cause.TOO_MANY_CONNECTIONS: Advice(
        "the server refuses more connections",
        "raise max_connections on the server, or lower the service's pool",
        "le serveur refuse de nouvelles connexions (trop de clients)",
        "augmenter max_connections sur le serveur, ou réduire le pool du service",
    ),
    Cause.SERVER_DISK_FULL: Advice(
        "the database server cannot write: its disk is full",
        "free space on the database server",
        "le disque du serveur de base de données est plein",
        "libérer de la place sur le serveur de base de données",
    ),
    Cause.SERVER_UNAVAILABLE: Advice(
        "the server is starting, shutting down or in recovery",
        "wait; nothing to do unless it lasts",
        "le serveur PostgreSQL démarre, s'arrête ou récupère",
        "patienter ; rien à faire sauf si cela dure",
    ),
    Cause.CONNECTION_LOST: Advice(
        "an established connection to the database broke",
        "look at the network and at the server's log",
        "la connexion à la base a été coupée",
        "vérifier le réseau et le journal du serveur PostgreSQL",
    ),
    Cause.OTHER: Advice(
        "the database failed otherwise",
        "read the message",
        "la base a renvoyé une erreur",
        "lire le message",
    ),
}


def grants_for(role: str, schema: str) -> str:
    """The GRANTs that let `role` apply the schema and write punches in `schema`, to run as the
    schema's owner (exactly as printed). ALTER TABLE on the ERP's `equipe` needs its owner: the
    owner applies sql/schema_pointage.sql once if the role does not own `equipe`."""
    role_q, schema_q = _ident(role), _ident(schema)
    return (
        f"GRANT USAGE, CREATE ON SCHEMA {schema_q} TO {role_q}; "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_q} TO {role_q}; "
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_q} TO {role_q};"
    )


def _ident(name: str) -> str:
    """A PostgreSQL identifier, quoted only when it must be."""
    plain = name.isidentifier() and name == name.lower() and name.isascii()
    return name if plain else '"' + name.replace('"', '""') + '"'
