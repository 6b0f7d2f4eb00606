-- Pointage (TimeMoto attendance) schema for the ERP.
--
-- Plain PostgreSQL 13+, idempotent: running it twice changes nothing and fails nothing.
-- Safe on the live ERP database: `equipe` keeps its own columns and rows; we only add ours.
-- Apply by hand:  psql -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f sql/schema_pointage.sql
-- (the service sends the same text in one call: no psql meta-commands in here).
--
-- Two layers:
--   - the clockings, one row per TimeMoto clocking: pointage_horodatage (the source of truth),
--     their exact monthly figures in pointage_resume_mensuel and equipe.minutes_travaillees_mois;
--   - what the ERP's own pages read, derived from them by the triggers, for the TimeMoto users
--     mapped to an employee: pointage (one row per employee and day), pointage_resume (one row
--     per employee and month), equipe.temps_travaille_mois (hours), v_pointage_detail.
--
--   0. Upgrades of the layout: a database set up by an earlier version of this file (clockings
--      in pointage), or by the ERP's own first schema
--   1. Tables
--   2. Worked time: the functions that attribute punches and keep the months and the ERP's rows
--   3. The triggers on pointage_horodatage
--   4. Links to equipe: mapping a TimeMoto user to an employee
--   5. Views
--   6. Upgrades of a database set up by an older version
--   7. What this run did, in one line (a NOTICE, and the setting pointage.schema_applique)

BEGIN;

-- =============================================================================================
-- 0. Upgrades of the layout
-- =============================================================================================
-- Before anything is created: what is there decides what is done, said in one line at the end
-- (section 7). The setting pointage.schema_applique carries that line through the transaction
-- (and after it, for the session: the service reads it there).
--   - pointage_horodatage exists: the layout is in place; nothing to move.
--   - pointage holds clockings (this service's earlier layout): it becomes pointage_horodatage,
--     every row kept (with its constraints, indexes and sequence, renamed), and our monthly
--     pointage_resume becomes pointage_resume_mensuel; the ERP's tables are then created and
--     filled from them (section 7).
--   - pointage and pointage_resume are the ERP's (its first schema, run before this file): they
--     stay, and become derived. Rows the ERP's first integration wrote in them are copied, as
--     they are, to pointage_premiere_integration and pointage_resume_premiere_integration (or
--     the first free name after them: _2, _3...), and only then taken out: nothing is dropped.
DO $$
BEGIN
    PERFORM set_config('pointage.schema_applique', '', false);
END;
$$;

-- The first free table name among p_nom, p_nom_2, p_nom_3...
CREATE OR REPLACE FUNCTION pointage_nom_libre(p_nom text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_nom text := p_nom;
    v_n integer := 1;
BEGIN
    WHILE to_regclass(quote_ident(v_nom)) IS NOT NULL LOOP
        v_n := v_n + 1;
        v_nom := p_nom || '_' || v_n;
    END LOOP;
    RETURN v_nom;
END;
$$;

-- Rename a table with the constraints, indexes and sequences named after it (p_ancien_*), so
-- that the names are free for the table that takes its place.
CREATE OR REPLACE FUNCTION pointage_renommer_table(p_ancien text, p_nouveau text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_nom text;
    v_sequence text;
BEGIN
    EXECUTE format('ALTER TABLE %I RENAME TO %I', p_ancien, p_nouveau);
    FOR v_nom IN SELECT c.conname FROM pg_constraint AS c
                  WHERE c.conrelid = to_regclass(quote_ident(p_nouveau))
                    AND starts_with(c.conname, p_ancien || '_') LOOP
        EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', p_nouveau, v_nom,
                       p_nouveau || substr(v_nom, length(p_ancien) + 1));
    END LOOP;
    FOR v_nom IN SELECT i.relname FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
                  WHERE x.indrelid = to_regclass(quote_ident(p_nouveau))
                    AND starts_with(i.relname, p_ancien || '_')
                    AND NOT starts_with(i.relname, p_nouveau || '_') LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', v_nom,
                       p_nouveau || substr(v_nom, length(p_ancien) + 1));
    END LOOP;
    FOR v_sequence IN SELECT s.relname FROM pg_depend AS d JOIN pg_class AS s ON s.oid = d.objid
                       WHERE d.refobjid = to_regclass(quote_ident(p_nouveau))
                         AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'
                         AND starts_with(s.relname, p_ancien || '_') LOOP
        EXECUTE format('ALTER SEQUENCE %I RENAME TO %I', v_sequence,
                       p_nouveau || substr(v_sequence, length(p_ancien) + 1));
    END LOOP;
END;
$$;

DO $$
DECLARE
    v_premiere boolean := to_regclass('pointage_horodatage') IS NULL;
    v_pointage text;  -- whose table pointage is: 'service', 'erp' or NULL (none)
    v_resume text;    -- the same for pointage_resume
    v_n bigint;
    v_m bigint;
    v_archive text;
    v_archive_resume text;
    v_ligne text;
BEGIN
    SELECT CASE WHEN bool_or(a.attname = 'type_pointage') THEN 'service'
                WHEN bool_or(a.attname = 'user_id') THEN 'erp'
                WHEN count(*) > 0 THEN 'autre' END
      INTO v_pointage
      FROM pg_attribute AS a
     WHERE a.attrelid = to_regclass('pointage') AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT CASE WHEN bool_or(a.attname = 'timemoto_user_id') THEN 'service'
                WHEN bool_or(a.attname = 'user_id') THEN 'erp'
                WHEN count(*) > 0 THEN 'autre' END
      INTO v_resume
      FROM pg_attribute AS a
     WHERE a.attrelid = to_regclass('pointage_resume') AND a.attnum > 0 AND NOT a.attisdropped;
    IF v_pointage = 'autre' OR v_resume = 'autre' THEN
        RAISE EXCEPTION 'pointage schema: table pointage or pointage_resume exists with columns '
                        'this file does not know (neither clockings nor the ERP''s layout); '
                        'nothing was changed';
    END IF;
    IF v_pointage = 'service' AND NOT v_premiere THEN
        RAISE EXCEPTION 'pointage schema: both pointage and pointage_horodatage hold clockings; '
                        'nothing was changed';
    END IF;
    IF v_resume = 'service' AND to_regclass('pointage_resume_mensuel') IS NOT NULL THEN
        RAISE EXCEPTION 'pointage schema: both pointage_resume and pointage_resume_mensuel hold '
                        'our monthly figures; nothing was changed';
    END IF;

    IF v_pointage = 'service' OR v_resume = 'service' THEN
        v_n := 0;
        v_m := 0;
        IF v_pointage = 'service' THEN
            -- Our per-clocking v_pointage_detail gives its name to the ERP's (section 5).
            DROP VIEW IF EXISTS v_pointage_detail;
            PERFORM pointage_renommer_table('pointage', 'pointage_horodatage');
            SELECT count(*) INTO v_n FROM pointage_horodatage;
        END IF;
        IF v_resume = 'service' THEN
            PERFORM pointage_renommer_table('pointage_resume', 'pointage_resume_mensuel');
            SELECT count(*) INTO v_m FROM pointage_resume_mensuel;
        END IF;
        v_ligne := format('upgraded from the earlier layout (clockings in pointage): %s '
                          'clockings moved to pointage_horodatage and %s monthly summaries to '
                          'pointage_resume_mensuel; pointage and pointage_resume now in the '
                          'ERP''s layout', v_n, v_m);
    ELSIF v_premiere AND (v_pointage = 'erp' OR v_resume = 'erp') THEN
        v_n := 0;
        v_m := 0;
        IF v_pointage = 'erp' THEN
            SELECT count(*) INTO v_n FROM pointage;
        END IF;
        IF v_resume = 'erp' THEN
            SELECT count(*) INTO v_m FROM pointage_resume;
        END IF;
        IF v_n = 0 AND v_m = 0 THEN
            v_ligne := 'upgraded from the ERP''s first layout: its pointage and pointage_resume '
                       'were empty and are now derived from the clockings (pointage_horodatage)';
        ELSE
            v_ligne := 'upgraded from the ERP''s first layout:';
            IF v_n > 0 THEN
                v_archive := pointage_nom_libre('pointage_premiere_integration');
                EXECUTE format('CREATE TABLE %I AS TABLE pointage', v_archive);
                DELETE FROM pointage;
                v_ligne := v_ligne || format(' its %s rows of pointage kept in %s;', v_n,
                                             v_archive);
            END IF;
            IF v_m > 0 THEN
                v_archive_resume := pointage_nom_libre('pointage_resume_premiere_integration');
                EXECUTE format('CREATE TABLE %I AS TABLE pointage_resume', v_archive_resume);
                DELETE FROM pointage_resume;
                v_ligne := v_ligne || format(' its %s rows of pointage_resume kept in %s;', v_m,
                                             v_archive_resume);
            END IF;
            v_ligne := v_ligne || ' pointage and pointage_resume are now derived from the '
                                  'clockings (pointage_horodatage)';
        END IF;
    ELSIF v_premiere THEN
        v_ligne := 'created: clockings in pointage_horodatage, the ERP''s pointage and '
                   'pointage_resume derived from them';
    END IF;
    -- NULL: nothing to upgrade (section 7 says so).
    PERFORM set_config('pointage.schema_applique', coalesce(v_ligne, ''), false);
END;
$$;

-- =============================================================================================
-- 1. Tables
-- =============================================================================================
-- A table is created as its first version; columns added since are added with
-- ADD COLUMN IF NOT EXISTS right after it, so an older database gains them too.

-- equipe: only created on an empty database (the ERP normally owns it, with more columns:
-- matricule, actif, taux_horaire...).
CREATE TABLE IF NOT EXISTS equipe (
    id serial PRIMARY KEY,
    nom text,
    prenom text
);
ALTER TABLE equipe ADD COLUMN IF NOT EXISTS timemoto_user_id text;  -- TimeMoto `userId`
-- Shown by v_pointage_detail (the ERP's equipe has them).
ALTER TABLE equipe ADD COLUMN IF NOT EXISTS fonction text;
ALTER TABLE equipe ADD COLUMN IF NOT EXISTS email text;
-- The worked time of the most recent month with punches: exact minutes (ours), and the hours
-- the ERP reads (numeric(6,2): minutes would overflow it). Once, temps_travaille_mois held the
-- minutes: they move to minutes_travaillees_mois.
ALTER TABLE equipe ADD COLUMN IF NOT EXISTS minutes_travaillees_mois integer NOT NULL DEFAULT 0;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_attribute
                WHERE attrelid = 'equipe'::regclass AND attname = 'temps_travaille_mois'
                  AND NOT attisdropped AND atttypid IN ('integer'::regtype, 'bigint'::regtype))
    THEN
        UPDATE equipe SET minutes_travaillees_mois = temps_travaille_mois
         WHERE minutes_travaillees_mois IS DISTINCT FROM temps_travaille_mois;
        ALTER TABLE equipe ALTER COLUMN temps_travaille_mois DROP DEFAULT,
            ALTER COLUMN temps_travaille_mois TYPE numeric(6,2)
                USING round(temps_travaille_mois / 60.0, 2),
            ALTER COLUMN temps_travaille_mois SET DEFAULT 0;
    END IF;
END;
$$;
ALTER TABLE equipe ADD COLUMN IF NOT EXISTS temps_travaille_mois numeric(6,2) NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX IF NOT EXISTS equipe_timemoto_user_id_key ON equipe (timemoto_user_id);

-- The order of punches at one instant: close what is open before opening anything (fin_pause,
-- sortie, entree, debut_pause, inconnu). The one definition of it; `pointage.rang` stores it.
-- (In PL/pgSQL: an SQL function would be inlined, so parsed again by every insert.)
CREATE OR REPLACE FUNCTION pointage_rang(p_type_pointage text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE p_type_pointage WHEN 'fin_pause' THEN 0 WHEN 'sortie' THEN 1 WHEN 'entree' THEN 2
                                WHEN 'debut_pause' THEN 3 ELSE 4 END;
END;
$$;

-- pointage_horodatage: one row per clocking (docs/contract.md §2).
CREATE TABLE IF NOT EXISTS pointage_horodatage (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    timemoto_user_id text NOT NULL,
    equipe_id integer REFERENCES equipe (id) ON DELETE SET NULL,
    type_pointage text NOT NULL
        CHECK (type_pointage IN ('entree', 'sortie', 'debut_pause', 'fin_pause', 'inconnu')),
    horodatage timestamptz NOT NULL,
    horodatage_brut timestamptz,
    fuseau_horaire text NOT NULL,
    date_travail date NOT NULL,
    ignore boolean NOT NULL DEFAULT false,
    payload jsonb NOT NULL,
    recu_le timestamptz NOT NULL DEFAULT now()
);
-- What each punch contributes to worked time (its attribution, section 2). The trigger owns
-- these columns: what an insert says of them is replaced, and nothing else should write them.
--   rang           the punch's place among punches of one instant (pointage_rang)
--   jour_rattache  the work date it counts on: its shift's, else its own local date
--                  (NULL: it counts nowhere, being ignored)
--   travail_us     on the sortie of a closed shift: the shift's worked microseconds
--   anomalie       the punch is an anomaly (exactly when motif_anomalie is set)
--   poste_ferme    the sortie of a closed shift (makes its date a worked day)
--   motif_anomalie why it is an anomaly, NULL when it is none:
--                    entree_repetee     an entree while a shift is open: the earlier entree
--                    sortie_sans_poste  a sortie with no open shift
--                    poste_trop_long    both punches of a "shift" over 24 hours
--   pause_us       on the sortie of a closed shift: the shift's break microseconds; 0 on other
--                  punches (NULL: attributed by an older version, which section 6 redoes)
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS rang smallint
    GENERATED ALWAYS AS (pointage_rang(type_pointage)) STORED;
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS jour_rattache date;
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS travail_us bigint NOT NULL DEFAULT 0;
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS anomalie boolean NOT NULL DEFAULT false;
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS poste_ferme boolean NOT NULL DEFAULT false;
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS motif_anomalie text
    CHECK (motif_anomalie IN ('entree_repetee', 'sortie_sans_poste', 'poste_trop_long'));
ALTER TABLE pointage_horodatage ADD COLUMN IF NOT EXISTS pause_us bigint;

-- The order of one user's punches, which the worked time follows:
--     (horodatage, rang, fuseau_horaire COLLATE "C", event_id COLLATE "C")
-- It never depends on the order of arrival. pointage_horodatage_ordre_idx, pointage_horodatage_ancre_idx, the queries
-- of sections 2 and 3 and v_pointage_jour spell it out column by column (a row comparison uses
-- an index only so).
CREATE INDEX IF NOT EXISTS pointage_horodatage_utilisateur_horodatage_idx
    ON pointage_horodatage (timemoto_user_id, horodatage);
CREATE INDEX IF NOT EXISTS pointage_horodatage_ordre_idx
    ON pointage_horodatage (timemoto_user_id, horodatage, rang, fuseau_horaire COLLATE "C",
                            event_id COLLATE "C")
    WHERE NOT ignore;
CREATE INDEX IF NOT EXISTS pointage_horodatage_ancre_idx
    ON pointage_horodatage (timemoto_user_id, horodatage, rang, fuseau_horaire COLLATE "C",
                            event_id COLLATE "C")
    WHERE NOT ignore AND type_pointage IN ('entree', 'sortie');
-- The punches that count on one date: a month's worked days, and the ERP's row of that day
-- (pointage_erp_synchroniser). It replaces pointage_poste_ferme_idx (the closed shifts only):
-- one index less to write on each insert.
CREATE INDEX IF NOT EXISTS pointage_horodatage_jour_idx
    ON pointage_horodatage (timemoto_user_id, jour_rattache) WHERE jour_rattache IS NOT NULL;
DROP INDEX IF EXISTS pointage_horodatage_poste_ferme_idx;
-- What the operators' status page reads (docs/contract.md §6): recent deliveries, the last one per
-- location, this month's anomalies.
CREATE INDEX IF NOT EXISTS pointage_horodatage_recu_le_idx ON pointage_horodatage (recu_le);
CREATE INDEX IF NOT EXISTS pointage_horodatage_lieu_recu_le_idx
    ON pointage_horodatage ((payload -> 'data' ->> 'locationName'), recu_le);
CREATE INDEX IF NOT EXISTS pointage_horodatage_anomalie_jour_idx
    ON pointage_horodatage (timemoto_user_id, jour_rattache) INCLUDE (motif_anomalie) WHERE anomalie;
-- The month-end export's days: v_pointage_jour over one month (the view's own predicate, so its
-- filter matches). pointage_horodatage_jour_idx leads with the user, so without this one the
-- month's rows are found by reading every clocking, a cost that grows with the history. With
-- it (`python -m bench erp_size`, 301,102 punches of 500 users over 185 days): Bitmap Index
-- Scan on pointage_horodatage_jour_rattache_idx, 48,097 rows of the month, 11,098 heap blocks,
-- 47 ms; the rest of the 140 ms is the sort and the aggregate of those rows (as on a database
-- holding that month alone).
CREATE INDEX IF NOT EXISTS pointage_horodatage_jour_rattache_idx
    ON pointage_horodatage (jour_rattache) WHERE NOT ignore AND jour_rattache IS NOT NULL;

-- pointage_resume_mensuel: one row per TimeMoto user and month, the sum of its punches'
-- attributions (§3's exact figures; the ERP's pointage_resume is derived from it).
CREATE TABLE IF NOT EXISTS pointage_resume_mensuel (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    timemoto_user_id text NOT NULL,
    equipe_id integer REFERENCES equipe (id) ON DELETE SET NULL,
    mois date NOT NULL,
    minutes_travaillees integer NOT NULL DEFAULT 0,
    jours_travailles integer NOT NULL DEFAULT 0,
    nb_pointages integer NOT NULL DEFAULT 0,
    nb_anomalies integer NOT NULL DEFAULT 0,
    mis_a_jour_le timestamptz NOT NULL DEFAULT now(),
    UNIQUE (timemoto_user_id, mois)
);
-- The exact worked microseconds (minutes_travaillees is this, rounded down).
ALTER TABLE pointage_resume_mensuel
    ADD COLUMN IF NOT EXISTS travail_us bigint NOT NULL DEFAULT 0;
-- One month of every user: the export's Récapitulatif and the status page's anomalies. The
-- unique key leads with the user, so without it every user's every month is read (five years of
-- 500 users: 30,000 rows). With it: Bitmap Index Scan on pointage_resume_mensuel_mois_idx, the
-- month's 500 rows; the export's months read 34 ms -> 26 ms at 301,102 punches.
CREATE INDEX IF NOT EXISTS pointage_resume_mensuel_mois_idx ON pointage_resume_mensuel (mois);

-- pointage_evenement, the inbox: deliveries that are not new punches (user.*, test events,
-- corrections), kept as sent.
CREATE TABLE IF NOT EXISTS pointage_evenement (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    event text NOT NULL,
    statut text NOT NULL DEFAULT 'ignore',
    payload jsonb NOT NULL,
    recu_le timestamptz NOT NULL DEFAULT now()
);
-- attendance.updated / attendance.deleted: the punch they were applied to, or why they were not.
ALTER TABLE pointage_evenement ADD COLUMN IF NOT EXISTS pointage_id bigint;
ALTER TABLE pointage_evenement ADD COLUMN IF NOT EXISTS motif text;
-- A new punch looks here for the corrections that arrived before it.
CREATE INDEX IF NOT EXISTS pointage_evenement_en_attente_idx
    ON pointage_evenement ((payload -> 'data' ->> 'userId'))
    WHERE statut = 'non_applique';
CREATE INDEX IF NOT EXISTS pointage_evenement_recu_le_idx ON pointage_evenement (recu_le);

-- pointage_supprime: the delivery ids of punches deleted since they were stored (by an
-- attendance.deleted, or by hand). TimeMoto may send a delivery again; a deleted punch must not
-- come back (the same id again is a duplicate). To store such a delivery again on purpose,
-- delete its row here first.
CREATE TABLE IF NOT EXISTS pointage_supprime (
    event_id text PRIMARY KEY,
    supprime_le timestamptz NOT NULL DEFAULT now()
);

-- What the ERP's own pages read (its layout, as its first schema created it): kept by the
-- triggers from the clockings, for the TimeMoto users mapped to an employee (user_id is
-- equipe.id); nothing else should write them. Where the ERP's first schema created them, they
-- stay as it made them.
-- pointage: one row per employee and work date (the date a punch counts on, as in
-- v_pointage_jour: a shift's punches count on its entree's local date).
--   timemoto_id         the TimeMoto user and the date (pointage_erp_id)
--   check_in            local time (in the punch's zone, without offset) of the date's first entree
--   check_out           local time of the date's last sortie
--   heures_travaillees  the date's worked minutes (§3) / 60, to 2 decimals
--   present             a closed shift counts on that date
--   retard_minutes      0: the service knows no schedule
CREATE TABLE IF NOT EXISTS pointage (
    id serial PRIMARY KEY,
    timemoto_id varchar(255) UNIQUE,
    user_id integer NOT NULL REFERENCES equipe (id) ON DELETE CASCADE,
    date date NOT NULL,
    check_in timestamp,
    check_out timestamp,
    heures_travaillees numeric(5,2) DEFAULT 0,
    present boolean DEFAULT false,
    retard_minutes integer DEFAULT 0,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, date)
);
CREATE INDEX IF NOT EXISTS idx_pointage_date ON pointage (date);
-- pointage_resume: one row per employee and month ('YYYY-MM'): total_heures is the month's
-- minutes_travaillees / 60 (2 decimals), total_jours_presents its jours_travailles; absences
-- and lateness 0.
CREATE TABLE IF NOT EXISTS pointage_resume (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES equipe (id) ON DELETE CASCADE,
    mois varchar(7) NOT NULL,
    total_heures numeric(6,2) DEFAULT 0,
    total_jours_presents integer DEFAULT 0,
    total_jours_absents integer DEFAULT 0,
    total_retards integer DEFAULT 0,
    total_minutes_retard integer DEFAULT 0,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, mois)
);

-- =============================================================================================
-- 2. Worked time
-- =============================================================================================
-- docs/contract.md §3; rules and tie-breaks in README "Worked time"; reference model
-- simulator/worktime_model.py.
--
-- Each punch stores its attribution (section 1) and `pointage_resume_mensuel` is always the sum of the
-- stored attributions, so a change applies differences instead of recounting a month.
--
-- Every entree or sortie (an "anchor") resets the pairing of punches into shifts. A punch's
-- attribution depends only on the anchors next to it, the one before it and the one after it,
-- and for the sortie of a closed shift on the break punches between its entree and itself. So
-- when punches arrive, leave or move, only the punches near where they are or were can change:
--   - around an entree or a sortie: the punches between the anchors on either side of it (the
--     anchor before it if an entree, the one after it if a sortie);
--   - around a break or inconnu punch: the punch itself, and the sortie of the closed shift it
--     is in (its breaks).
-- A statement on `pointage_horodatage` recomputes those punches once for all the rows it touched
-- (pointage_recalculer, section 3's triggers), writes the attributions that changed and applies
-- the differences to the months (pointage_compter). The usual punch, later than all of its
-- user's punches, changes no other punch: it is attributed as it is inserted, and only the
-- months are left to count.

-- One punch's attribution (the columns of section 1), as the functions below pass it around.
DO $$
BEGIN
    IF to_regtype('pointage_attribution') IS NULL THEN
        CREATE TYPE pointage_attribution AS (
            id bigint,  -- the punch
            jour date,  -- jour_rattache
            travail_us bigint,
            anomalie boolean,
            poste_ferme boolean,
            motif_anomalie text,
            pause_us bigint
        );
    ELSIF NOT EXISTS (SELECT FROM pg_attribute
                       WHERE attrelid = to_regclass('pointage_attribution')
                         AND attname = 'motif_anomalie') THEN
        -- as created before the anomaly reasons
        ALTER TYPE pointage_attribution ADD ATTRIBUTE motif_anomalie text,
                                        ADD ATTRIBUTE pause_us bigint;
    END IF;
END;
$$;

-- The first day of a date's month.
CREATE OR REPLACE FUNCTION pointage_mois(p_jour date) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_jour - extract(day FROM p_jour)::integer + 1;
$$;

-- Serialise the changes of one user (concurrent deliveries cannot lose an update). A statement
-- that changes several users takes their locks in the order of their ids (no deadlock).
CREATE OR REPLACE FUNCTION pointage_verrouiller(p_user text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('pointage_resume'), hashtext(p_user));
$$;

-- A punch brought back from TimeMoto's export (python -m service reconcile --apply): its
-- event_id is `import:` and a hash of its user, instant to the second and type. Such a punch and
-- a delivered one with the same user, instant to the second and type are one clocking (unless one
-- is ignored and the other not: TimeMoto keeps a double press so): whichever comes second is not
-- inserted (pointage_rattacher_equipe, under the user's lock, so concurrent
-- writers see each other). Imported punches among themselves: their event_id is the key.
CREATE OR REPLACE FUNCTION pointage_importe(p_event_id text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT starts_with(p_event_id, 'import:');
$$;

-- An instant cut to its second, in UTC (a session's time zone with an offset in seconds, as
-- some historical ones have, cannot move it).
CREATE OR REPLACE FUNCTION pointage_seconde(p_h timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('second', p_h AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
$$;

-- For the service's insert of a batch of punches, one statement in its own transaction: takes
-- the user's lock, then says whether a correction of this user waits for its punch (statut
-- non_applique, as pointage_evenement_en_attente_idx has it). VOLATILE: its check runs with a
-- fresh snapshot taken after the lock, so it sees any correction committed before the lock was
-- had, and a correction committed later waits for the lock, then finds the punch. A user whose
-- correction waits is left out of that insert: the service writes its punch in a transaction
-- that applies the correction too.
CREATE OR REPLACE FUNCTION pointage_correction_en_attente(p_user text) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT pointage_verrouiller(p_user);
    SELECT EXISTS (SELECT FROM pointage_evenement
                    WHERE (payload -> 'data' ->> 'userId') = p_user AND statut = 'non_applique');
$$;

-- The breaks of a shift: between its entree and its sortie (their positions in the order), a
-- debut_pause opens a break unless one is open, a fin_pause closes the open one, and one still
-- open ends at the sortie. So the fin_pause punches cut the shift into groups, and each group's
-- break runs from its first debut_pause to its fin_pause (the last group's, to the sortie).
CREATE OR REPLACE FUNCTION pointage_pauses(
    p_user text,
    p_entree_h timestamptz, p_entree_rang smallint, p_entree_fuseau text, p_entree_event text,
    p_sortie_h timestamptz, p_sortie_rang smallint, p_sortie_fuseau text, p_sortie_event text)
RETURNS interval
LANGUAGE plpgsql STABLE
-- Through the index, whatever the statistics said when the plan was made (see
-- pointage_recalculer).
SET enable_seqscan = off
AS $$
DECLARE
    v_pauses interval;
BEGIN
    SELECT coalesce(sum(CASE WHEN g.debut IS NULL THEN interval '0'
                             WHEN g.fin IS NULL THEN p_sortie_h - g.debut
                             ELSE g.fin - g.debut END), interval '0')
      INTO v_pauses
      FROM (SELECT min(s.horodatage) FILTER (WHERE s.type_pointage = 'debut_pause') AS debut,
                   min(s.horodatage) FILTER (WHERE s.type_pointage = 'fin_pause') AS fin
              FROM (SELECT s.type_pointage, s.horodatage,
                           count(*) FILTER (WHERE s.type_pointage = 'fin_pause')
                               OVER (ORDER BY s.horodatage, s.rang, s.fuseau_horaire COLLATE "C",
                                              s.event_id COLLATE "C"
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                               AS groupe
                      FROM pointage_horodatage AS s
                     WHERE s.timemoto_user_id = p_user AND NOT s.ignore
                       AND s.horodatage >= p_entree_h AND s.horodatage <= p_sortie_h
                       AND (s.horodatage, s.rang, s.fuseau_horaire COLLATE "C",
                            s.event_id COLLATE "C")
                           > (p_entree_h, p_entree_rang, p_entree_fuseau COLLATE "C",
                              p_entree_event COLLATE "C")
                       AND (s.horodatage, s.rang, s.fuseau_horaire COLLATE "C",
                            s.event_id COLLATE "C")
                           < (p_sortie_h, p_sortie_rang, p_sortie_fuseau COLLATE "C",
                              p_sortie_event COLLATE "C")
                       AND s.type_pointage IN ('debut_pause', 'fin_pause')) AS s
             GROUP BY s.groupe) AS g;
    RETURN v_pauses;
END;
$$;

-- The ERP's stable id of a TimeMoto user's day (pointage.timemoto_id): the user and the date,
-- at most 47 characters (a user id longer than TimeMoto's uuids is replaced by its md5).
CREATE OR REPLACE FUNCTION pointage_erp_id(p_user text, p_jour date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN length(p_user) <= 36 THEN p_user ELSE md5(p_user) END
           || '/' || to_char(p_jour, 'YYYY-MM-DD');
$$;

-- The ERP's rows of some users' work dates (pairs: p_users[i], p_jours[i]) and of their months,
-- made equal to what the clockings and pointage_resume_mensuel say now, for the users mapped to
-- an employee: pointage_erp_jours (one row per employee and date) and pointage_erp_mois (per
-- employee and month). A row is written only when it changes (its id stays), and taken out when
-- its date or month has no punch left. The users' locks are held.
CREATE OR REPLACE FUNCTION pointage_erp_synchroniser(p_users text[], p_jours date[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pointage_erp_jours(p_users, p_jours);
    PERFORM pointage_erp_mois(p_users, p_jours);
END;
$$;

-- The ERP's pointage rows of those dates.
CREATE OR REPLACE FUNCTION pointage_erp_jours(p_users text[], p_jours date[]) RETURNS void
LANGUAGE plpgsql
-- As pointage_compter: one plan, every access through an index.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    WITH cibles AS (
        SELECT DISTINCT e.id AS user_id, t.u, t.jour
          FROM unnest(p_users, p_jours) AS t (u, jour)
          JOIN equipe AS e ON e.timemoto_user_id = t.u
         WHERE t.jour IS NOT NULL
    ),
    jours AS (
        SELECT c.user_id, c.u, c.jour, d.nb, d.check_in, d.check_out, d.present,
               round((d.us / 60000000) / 60.0, 2) AS heures, x.id AS erp_id,
               (x.check_in, x.check_out, x.heures_travaillees, x.present)
                   IS NOT DISTINCT FROM
                   (d.check_in, d.check_out, round((d.us / 60000000) / 60.0, 2), d.present)
                   AS inchange
          FROM cibles AS c
         CROSS JOIN LATERAL (
             SELECT count(*) AS nb,
                    (array_agg(p.horodatage AT TIME ZONE p.fuseau_horaire
                               ORDER BY p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                                        p.event_id COLLATE "C")
                         FILTER (WHERE p.type_pointage = 'entree'))[1] AS check_in,
                    (array_agg(p.horodatage AT TIME ZONE p.fuseau_horaire
                               ORDER BY p.horodatage DESC, p.rang DESC,
                                        p.fuseau_horaire COLLATE "C" DESC,
                                        p.event_id COLLATE "C" DESC)
                         FILTER (WHERE p.type_pointage = 'sortie'))[1] AS check_out,
                    coalesce(sum(p.travail_us), 0)::bigint AS us,
                    coalesce(bool_or(p.poste_ferme), false) AS present
               FROM pointage_horodatage AS p
              WHERE p.timemoto_user_id = c.u AND p.jour_rattache = c.jour AND NOT p.ignore) AS d
          LEFT JOIN pointage AS x ON x.user_id = c.user_id AND x.date = c.jour
    ),
    supprimes AS (
        DELETE FROM pointage AS x USING jours AS j WHERE x.id = j.erp_id AND j.nb = 0
    ),
    modifies AS (
        UPDATE pointage AS x
           SET check_in = j.check_in, check_out = j.check_out, heures_travaillees = j.heures,
               present = j.present, updated_at = localtimestamp
          FROM jours AS j
         WHERE x.id = j.erp_id AND j.nb > 0 AND NOT j.inchange
    )
    INSERT INTO pointage (timemoto_id, user_id, date, check_in, check_out, heures_travaillees,
                          present, retard_minutes)
    SELECT pointage_erp_id(j.u, j.jour), j.user_id, j.jour, j.check_in, j.check_out, j.heures,
           j.present, 0
      FROM jours AS j
     WHERE j.erp_id IS NULL AND j.nb > 0;
END;
$$;

-- The ERP's pointage_resume rows of the months of those dates.
CREATE OR REPLACE FUNCTION pointage_erp_mois(p_users text[], p_jours date[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    WITH cibles AS (
        SELECT DISTINCT e.id AS user_id, t.u, pointage_mois(t.jour) AS mois
          FROM unnest(p_users, p_jours) AS t (u, jour)
          JOIN equipe AS e ON e.timemoto_user_id = t.u
         WHERE t.jour IS NOT NULL
    ),
    mois AS (
        SELECT c.user_id, to_char(c.mois, 'YYYY-MM') AS mois,
               round(r.minutes_travaillees / 60.0, 2) AS heures, r.jours_travailles AS jours,
               x.id AS erp_id, r.id IS NULL AS vide,
               (x.total_heures, x.total_jours_presents)
                   IS NOT DISTINCT FROM (round(r.minutes_travaillees / 60.0, 2), r.jours_travailles)
                   AS inchange
          FROM cibles AS c
          LEFT JOIN pointage_resume_mensuel AS r ON r.timemoto_user_id = c.u AND r.mois = c.mois
          LEFT JOIN pointage_resume AS x
                 ON x.user_id = c.user_id AND x.mois = to_char(c.mois, 'YYYY-MM')
    ),
    supprimes AS (
        DELETE FROM pointage_resume AS x USING mois AS m WHERE x.id = m.erp_id AND m.vide
    ),
    modifies AS (
        UPDATE pointage_resume AS x
           SET total_heures = m.heures, total_jours_presents = m.jours,
               updated_at = localtimestamp
          FROM mois AS m
         WHERE x.id = m.erp_id AND NOT m.vide AND NOT m.inchange
    )
    INSERT INTO pointage_resume (user_id, mois, total_heures, total_jours_presents,
                                 total_jours_absents, total_retards, total_minutes_retard)
    SELECT m.user_id, m.mois, m.heures, m.jours, 0, 0, 0
      FROM mois AS m
     WHERE m.erp_id IS NULL AND NOT m.vide;
END;
$$;

-- The ERP's row of the date one usual punch counts on (later than all of its user's punches,
-- attributed as it was inserted: pointage_rattacher_equipe), for the employee `p_equipe`: what
-- that punch changes, without reading the date's other punches but for a closed shift's hours.
-- An entree sets check_in if none is set; the sortie of a closed shift sets check_out, present
-- and the hours; another sortie check_out; a date with no row yet gets one (no other punch
-- counts on it: the rows follow the punches of mapped users).
CREATE OR REPLACE FUNCTION pointage_erp_jour_ajoute(
    p_equipe integer, p_a pointage_attribution, p_punch pointage_horodatage) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_local timestamp := p_punch.horodatage AT TIME ZONE p_punch.fuseau_horaire;
    v_us bigint := p_a.travail_us;
BEGIN
    IF p_a.poste_ferme THEN
        SELECT sum(p.travail_us) INTO v_us
          FROM pointage_horodatage AS p
         WHERE p.timemoto_user_id = p_punch.timemoto_user_id AND p.jour_rattache = p_a.jour
           AND p.poste_ferme;
        UPDATE pointage AS x
           SET check_out = v_local, present = true,
               heures_travaillees = round((v_us / 60000000) / 60.0, 2), updated_at = localtimestamp
         WHERE x.user_id = p_equipe AND x.date = p_a.jour;
    ELSIF p_punch.type_pointage = 'sortie' THEN
        UPDATE pointage AS x SET check_out = v_local, updated_at = localtimestamp
         WHERE x.user_id = p_equipe AND x.date = p_a.jour;
    ELSIF p_punch.type_pointage = 'entree' THEN
        UPDATE pointage AS x SET check_in = v_local, updated_at = localtimestamp
         WHERE x.user_id = p_equipe AND x.date = p_a.jour AND x.check_in IS NULL;
    ELSE
        -- a break or inconnu punch: nothing the ERP shows changes, once its date has a row
        PERFORM FROM pointage AS x WHERE x.user_id = p_equipe AND x.date = p_a.jour;
    END IF;
    IF NOT FOUND THEN
        -- (an entree after the date's first one finds its row here, and changes nothing)
        INSERT INTO pointage (timemoto_id, user_id, date, check_in, check_out,
                              heures_travaillees, present, retard_minutes)
        SELECT pointage_erp_id(p_punch.timemoto_user_id, p_a.jour), p_equipe, p_a.jour,
               CASE WHEN p_punch.type_pointage = 'entree' THEN v_local END,
               CASE WHEN p_punch.type_pointage = 'sortie' THEN v_local END,
               round((v_us / 60000000) / 60.0, 2), p_a.poste_ferme, 0
         WHERE NOT EXISTS (SELECT FROM pointage AS x
                            WHERE x.user_id = p_equipe AND x.date = p_a.jour);
    END IF;
END;
$$;

-- Apply attributions to the months: each of `p_attributions` (of the user at the same place in
-- `p_users`) is added to its month (`p_signes` 1) or taken out of it (-1); those with no date
-- count nowhere. The table already holds the attributions as they are now. A month left without
-- punches disappears; equipe.temps_travaille_mois follows; so do the ERP's rows of the dates and
-- months concerned. Usual punches (pointage_maj_resume): `p_jours` false, the caller keeps the
-- ERP's day rows itself, or `p_insere`, the one punch, whose ERP day row is updated here in
-- place. The users' locks are held.
DROP FUNCTION IF EXISTS pointage_compter(text[], pointage_attribution[], integer[]);
DROP FUNCTION IF EXISTS pointage_compter(text[], pointage_attribution[], integer[],
                                         pointage_horodatage);
DROP FUNCTION IF EXISTS pointage_compter(text[], pointage_attribution[], integer[], boolean);
CREATE OR REPLACE FUNCTION pointage_compter(
    p_users text[], p_attributions pointage_attribution[], p_signes integer[],
    p_jours boolean DEFAULT true, p_insere pointage_horodatage DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
-- One plan, whatever the statistics said when it was made (see pointage_recalculer).
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_rattaches boolean;  -- one of the users is mapped to an employee
    v_a pointage_attribution;
    v_signe integer;
    v_jours integer := 0;
    v_nouveau_mois boolean := false;
    v_equipe integer;  -- one punch: the employee its user is mapped to, and its month's
    v_minutes integer;
    v_jours_mois integer;
BEGIN
    IF cardinality(p_attributions) = 1 THEN
        -- One punch (the usual statement): the same, without grouping, its month's row updated
        -- in place when there is one.
        v_a := p_attributions[1];
        v_signe := p_signes[1];
        IF v_a.jour IS NULL THEN
            RETURN;
        ELSIF v_a.poste_ferme THEN
            SELECT (count(*) > 0)::integer - (count(*) - v_signe > 0)::integer INTO v_jours
              FROM pointage_horodatage AS p
             WHERE p.timemoto_user_id = p_users[1] AND p.jour_rattache = v_a.jour
               AND p.poste_ferme;
        END IF;
        UPDATE pointage_resume_mensuel AS r
           SET travail_us = r.travail_us + v_signe * v_a.travail_us,
               minutes_travaillees = (r.travail_us + v_signe * v_a.travail_us) / 60000000,
               jours_travailles = r.jours_travailles + v_jours,
               nb_pointages = r.nb_pointages + v_signe,
               nb_anomalies = r.nb_anomalies + v_signe * v_a.anomalie::integer,
               mis_a_jour_le = now()
         WHERE r.timemoto_user_id = p_users[1] AND r.mois = pointage_mois(v_a.jour)
        RETURNING r.equipe_id, r.minutes_travaillees, r.jours_travailles
             INTO v_equipe, v_minutes, v_jours_mois;
        IF NOT FOUND THEN
            v_nouveau_mois := true;
            INSERT INTO pointage_resume_mensuel (timemoto_user_id, equipe_id, mois, travail_us,
                                         minutes_travaillees, jours_travailles, nb_pointages,
                                         nb_anomalies, mis_a_jour_le)
            VALUES (p_users[1],
                    (SELECT e.id FROM equipe AS e WHERE e.timemoto_user_id = p_users[1]),
                    pointage_mois(v_a.jour), v_signe * v_a.travail_us,
                    v_signe * v_a.travail_us / 60000000, v_jours, v_signe,
                    v_signe * v_a.anomalie::integer, now())
            RETURNING equipe_id, minutes_travaillees, jours_travailles
                 INTO v_equipe, v_minutes, v_jours_mois;
        END IF;
        v_rattaches := v_equipe IS NOT NULL;
    ELSE
    WITH ecrits AS (
        INSERT INTO pointage_resume_mensuel AS r (timemoto_user_id, equipe_id, mois, travail_us,
                                          minutes_travaillees, jours_travailles, nb_pointages,
                                          nb_anomalies, mis_a_jour_le)
        SELECT d.u, (SELECT e.id FROM equipe AS e WHERE e.timemoto_user_id = d.u), d.mois,
               d.us, d.us / 60000000, d.jours, d.pointages, d.anomalies, now()
          FROM (
              -- per user and month
              SELECT j.u, pointage_mois(j.jour) AS mois, sum(j.us)::bigint AS us,
                     sum(j.jours)::integer AS jours, sum(j.pointages)::integer AS pointages,
                     sum(j.anomalies)::integer AS anomalies
                FROM (
                    -- per user and date; a date is a worked day while one closed shift at least
                    -- counts on it: as the table says now, and as it said before (the closed
                    -- shifts that come in were not there yet, those that go out still were)
                    SELECT m.u, m.jour, sum(m.signe * m.travail_us) AS us,
                           sum(m.signe) AS pointages,
                           sum(m.signe * m.anomalie::integer) AS anomalies,
                           CASE WHEN bool_or(m.poste_ferme) THEN
                               (SELECT (c.nb > 0)::integer
                                       - (c.nb - sum(m.signe) FILTER (WHERE m.poste_ferme) > 0)
                                         ::integer
                                  FROM (SELECT count(*) AS nb FROM pointage_horodatage AS p
                                         WHERE p.timemoto_user_id = m.u
                                           AND p.jour_rattache = m.jour AND p.poste_ferme) AS c)
                           ELSE 0 END AS jours
                      FROM unnest(p_users, p_attributions, p_signes)
                           AS m (u, id, jour, travail_us, anomalie, poste_ferme, motif_anomalie,
                                 pause_us, signe)
                     WHERE m.jour IS NOT NULL
                     GROUP BY m.u, m.jour) AS j
               GROUP BY j.u, pointage_mois(j.jour)
              HAVING sum(j.us) <> 0 OR sum(j.jours) <> 0 OR sum(j.pointages) <> 0
                  OR sum(j.anomalies) <> 0) AS d
        ON CONFLICT (timemoto_user_id, mois) DO UPDATE
           SET travail_us = r.travail_us + excluded.travail_us,
               minutes_travaillees = (r.travail_us + excluded.travail_us) / 60000000,
               jours_travailles = r.jours_travailles + excluded.jours_travailles,
               nb_pointages = r.nb_pointages + excluded.nb_pointages,
               nb_anomalies = r.nb_anomalies + excluded.nb_anomalies,
               mis_a_jour_le = now()
        RETURNING r.equipe_id
    )
    SELECT bool_or(e.equipe_id IS NOT NULL) INTO v_rattaches FROM ecrits AS e;
    END IF;
    IF -1 = ANY (p_signes) THEN
        DELETE FROM pointage_resume_mensuel AS r
         USING (SELECT DISTINCT m.u, pointage_mois(m.jour) AS mois
                  FROM unnest(p_users, p_attributions)
                       AS m (u, id, jour, travail_us, anomalie, poste_ferme, motif_anomalie,
                             pause_us)
                 WHERE m.jour IS NOT NULL) AS t
         WHERE r.timemoto_user_id = t.u AND r.mois = t.mois AND r.nb_pointages <= 0;
    END IF;
    IF v_rattaches THEN
        -- equipe: the minutes of the user's most recent month with punches, and its hours.
        UPDATE equipe AS e
           SET minutes_travaillees_mois = d.minutes, temps_travaille_mois = round(d.minutes / 60.0, 2)
          FROM (SELECT u.u,
                       coalesce((SELECT r.minutes_travaillees FROM pointage_resume_mensuel AS r
                                  WHERE r.timemoto_user_id = u.u
                                  ORDER BY r.mois DESC LIMIT 1), 0) AS minutes
                  FROM (SELECT DISTINCT u.u FROM unnest(p_users) AS u (u)) AS u) AS d
         WHERE e.timemoto_user_id = d.u
           AND (e.minutes_travaillees_mois IS DISTINCT FROM d.minutes
                OR e.temps_travaille_mois IS DISTINCT FROM round(d.minutes / 60.0, 2));
    END IF;
    -- The ERP's rows of the dates these punches count on, and of their months. (Several punches:
    -- a row may change where the months do not, a first entree moved within its day.)
    IF cardinality(p_attributions) = 1 THEN
        IF v_rattaches THEN
            IF (p_insere).id IS NOT NULL THEN
                PERFORM pointage_erp_jour_ajoute(v_equipe, v_a, p_insere);
            ELSIF p_jours THEN
                PERFORM pointage_erp_jours(p_users, ARRAY[v_a.jour]);
            END IF;
            -- The month as the ERP sees it (hours, days present) changes with a closed shift,
            -- a new month, or a punch taken out (its month may go); not with an entree or a break.
            IF v_signe < 0 THEN
                PERFORM pointage_erp_mois(p_users, ARRAY[v_a.jour]);
            ELSIF v_a.travail_us <> 0 OR v_jours <> 0 OR v_nouveau_mois THEN
                UPDATE pointage_resume AS x
                   SET total_heures = round(v_minutes / 60.0, 2),
                       total_jours_presents = v_jours_mois, updated_at = localtimestamp
                 WHERE x.user_id = v_equipe
                   AND x.mois = to_char(pointage_mois(v_a.jour), 'YYYY-MM');
                IF NOT FOUND THEN
                    PERFORM pointage_erp_mois(p_users, ARRAY[v_a.jour]);
                END IF;
            END IF;
        END IF;
    ELSIF p_jours THEN
        PERFORM pointage_erp_synchroniser(array_agg(m.u), array_agg(m.jour))
           FROM unnest(p_users, p_attributions)
                AS m (u, id, jour, travail_us, anomalie, poste_ferme, motif_anomalie, pause_us)
          WHERE m.jour IS NOT NULL
         HAVING count(*) > 0;
    ELSE
        PERFORM pointage_erp_mois(array_agg(m.u), array_agg(m.jour))
           FROM unnest(p_users, p_attributions)
                AS m (u, id, jour, travail_us, anomalie, poste_ferme, motif_anomalie, pause_us)
          WHERE m.jour IS NOT NULL
         HAVING count(*) > 0;
    END IF;
END;
$$;

-- Recompute, at once, the attributions the rows of one statement may have changed: `p_nouveaux`
-- are those rows as they are now (inserted, or updated: what they store counts nowhere yet),
-- `p_anciens` as they were (deleted, or before their update: what they stored is taken out of
-- the months). Writes the attributions that changed, then counts the months. The users' locks
-- are held.
CREATE OR REPLACE FUNCTION pointage_recalculer(p_nouveaux pointage_horodatage[], p_anciens pointage_horodatage[])
RETURNS void
LANGUAGE plpgsql
-- One plan per session, the same whatever the tables' statistics said when it was made (made
-- while `pointage_horodatage` was empty, it must not read the table whole once it is not): every access
-- goes through an index, every join is a nested loop driven by the touched rows.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_users text[];
    v_attributions pointage_attribution[];
    v_signes integer[];
BEGIN
    WITH
    -- Where the order changed: where the touched punches are now, and where they were.
    positions AS (
        SELECT n.timemoto_user_id AS u, n.type_pointage AS t, n.horodatage AS h, n.rang AS rg,
               n.fuseau_horaire AS f, n.event_id AS e
          FROM unnest(p_nouveaux) AS n
         WHERE NOT n.ignore
        UNION
        SELECT o.timemoto_user_id, o.type_pointage, o.horodatage, o.rang, o.fuseau_horaire,
               o.event_id
          FROM unnest(p_anciens) AS o
         WHERE NOT o.ignore
    ),
    -- Around each position, the nearest anchors: `av` before it, `ap` after it (NULL: none).
    entre_ancres AS (
        SELECT pos.u, pos.t,
               av.id AS av_id, av.type_pointage AS av_t, av.horodatage AS av_h, av.rang AS av_rg,
               av.fuseau_horaire AS av_f, av.event_id AS av_e,
               ap.id AS ap_id, ap.type_pointage AS ap_t, ap.horodatage AS ap_h, ap.rang AS ap_rg,
               ap.fuseau_horaire AS ap_f, ap.event_id AS ap_e
          FROM positions AS pos
          LEFT JOIN LATERAL (
              SELECT p.id, p.type_pointage, p.horodatage, p.rang, p.fuseau_horaire, p.event_id
                FROM pointage_horodatage AS p
               WHERE p.timemoto_user_id = pos.u AND NOT p.ignore
                 AND p.type_pointage IN ('entree', 'sortie') AND p.horodatage <= pos.h
                 AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C")
                     < (pos.h, pos.rg, pos.f COLLATE "C", pos.e COLLATE "C")
               ORDER BY p.horodatage DESC, p.rang DESC, p.fuseau_horaire COLLATE "C" DESC,
                        p.event_id COLLATE "C" DESC
               LIMIT 1) AS av ON true
          LEFT JOIN LATERAL (
              SELECT p.id, p.type_pointage, p.horodatage, p.rang, p.fuseau_horaire, p.event_id
                FROM pointage_horodatage AS p
               WHERE p.timemoto_user_id = pos.u AND NOT p.ignore
                 AND p.type_pointage IN ('entree', 'sortie') AND p.horodatage >= pos.h
                 AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C")
                     > (pos.h, pos.rg, pos.f COLLATE "C", pos.e COLLATE "C")
               ORDER BY p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C"
               LIMIT 1) AS ap ON true
    ),
    -- The punches whose attribution may change.
    candidats AS (
        -- Around an entree or a sortie: the punches between the anchors on either side (the one
        -- before if an entree, the one after if a sortie).
        SELECT p.id
          FROM entre_ancres AS x
          JOIN LATERAL (
              SELECT p.id
                FROM pointage_horodatage AS p
               WHERE p.timemoto_user_id = x.u AND NOT p.ignore
                 AND p.horodatage >= coalesce(x.av_h, '-infinity')
                 AND p.horodatage <= coalesce(x.ap_h, 'infinity')
                 AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C")
                     >= (coalesce(x.av_h, '-infinity'), coalesce(x.av_rg, -1),
                         coalesce(x.av_f, '') COLLATE "C", coalesce(x.av_e, '') COLLATE "C")
                 AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C")
                     <= (coalesce(x.ap_h, 'infinity'), coalesce(x.ap_rg, 32767),
                         coalesce(x.ap_f, '') COLLATE "C", coalesce(x.ap_e, '') COLLATE "C")
              ) AS p ON true
         WHERE x.t IN ('entree', 'sortie')
           AND (p.id IS DISTINCT FROM x.av_id OR x.av_t = 'entree')
           AND (p.id IS DISTINCT FROM x.ap_id OR x.ap_t = 'sortie')
        UNION
        -- Around a break or inconnu punch: the sortie of the closed shift it is in.
        SELECT x.ap_id
          FROM entre_ancres AS x
         WHERE x.t NOT IN ('entree', 'sortie') AND x.av_t = 'entree' AND x.ap_t = 'sortie'
           AND x.ap_h - x.av_h <= interval '24 hours'
        UNION
        -- The touched punches themselves (an ignored one counts nowhere).
        SELECT n.id FROM unnest(p_nouveaux) AS n
    ),
    -- Each candidate's attribution as it is computed now, as it is stored, and whether the
    -- statement touched it.
    calculees AS (
        SELECT a.u,
               CASE WHEN a.ignore THEN
                        (a.id, NULL, 0, false, false, NULL, 0)::pointage_attribution
                    WHEN a.ferme THEN
                        -- A closed shift: on its entree's date, its times on its sortie.
                        (a.id, a.jour_entree,
                         round(extract(epoch FROM a.duree - a.pauses) * 1000000),
                         false, true, NULL,
                         round(extract(epoch FROM a.pauses) * 1000000))::pointage_attribution
                    WHEN a.dans_poste THEN
                        (a.id, a.jour_entree, 0, false, false, NULL, 0)::pointage_attribution
                    ELSE
                        (a.id, a.jour_local, 0, a.motif IS NOT NULL, false, a.motif,
                         0)::pointage_attribution
               END AS calculee,
               a.stockee, a.touche
          FROM (
              SELECT b.*,
                     CASE WHEN b.ferme THEN
                         pointage_pauses(b.u, b.av_h, b.av_rg, b.av_f, b.av_e,
                                         b.h, b.rg, b.f, b.e)
                     END AS pauses
                FROM (
                    SELECT r.timemoto_user_id AS u, r.id, r.ignore, r.horodatage AS h,
                           r.rang AS rg, r.fuseau_horaire AS f, r.event_id AS e,
                           av.horodatage AS av_h, av.rang AS av_rg, av.fuseau_horaire AS av_f,
                           av.event_id AS av_e,
                           (r.horodatage AT TIME ZONE r.fuseau_horaire)::date AS jour_local,
                           (av.horodatage AT TIME ZONE av.fuseau_horaire)::date AS jour_entree,
                           r.horodatage - av.horodatage AS duree,
                           -- the sortie of a closed shift
                           coalesce(r.type_pointage = 'sortie' AND av.type_pointage = 'entree'
                                    AND r.horodatage - av.horodatage <= interval '24 hours',
                                    false) AS ferme,
                           -- a break or inconnu punch in a shift, closed or still open
                           coalesce(r.type_pointage NOT IN ('entree', 'sortie')
                                    AND av.type_pointage = 'entree'
                                    AND (ap.id IS NULL
                                         OR (ap.type_pointage = 'sortie'
                                             AND ap.horodatage - av.horodatage
                                                 <= interval '24 hours')), false)
                               AS dans_poste,
                           CASE r.type_pointage
                           WHEN 'entree' THEN
                               CASE WHEN ap.type_pointage = 'entree' THEN 'entree_repetee'
                                    WHEN ap.horodatage - r.horodatage > interval '24 hours'
                                        THEN 'poste_trop_long' END
                           WHEN 'sortie' THEN
                               CASE WHEN av.type_pointage IS DISTINCT FROM 'entree'
                                        THEN 'sortie_sans_poste'
                                    WHEN r.horodatage - av.horodatage > interval '24 hours'
                                        THEN 'poste_trop_long' END
                           END AS motif,
                           (r.id, r.jour_rattache, r.travail_us, r.anomalie, r.poste_ferme,
                            r.motif_anomalie, r.pause_us)::pointage_attribution AS stockee,
                           r.id = ANY (SELECT n.id FROM unnest(p_nouveaux) AS n) AS touche
                      FROM candidats AS c
                      JOIN pointage_horodatage AS r ON r.id = c.id
                      -- The anchor before it (not needed for an entree)...
                      LEFT JOIN LATERAL (
                          SELECT p.type_pointage, p.horodatage, p.rang, p.fuseau_horaire,
                                 p.event_id
                            FROM pointage_horodatage AS p
                           WHERE r.type_pointage <> 'entree' AND NOT r.ignore
                             AND p.timemoto_user_id = r.timemoto_user_id AND NOT p.ignore
                             AND p.type_pointage IN ('entree', 'sortie')
                             AND p.horodatage <= r.horodatage
                             AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                                  p.event_id COLLATE "C")
                                 < (r.horodatage, r.rang, r.fuseau_horaire COLLATE "C",
                                    r.event_id COLLATE "C")
                           ORDER BY p.horodatage DESC, p.rang DESC,
                                    p.fuseau_horaire COLLATE "C" DESC, p.event_id COLLATE "C" DESC
                           LIMIT 1) AS av ON true
                      -- ... and the anchor after it (not needed for a sortie).
                      LEFT JOIN LATERAL (
                          SELECT p.id, p.type_pointage, p.horodatage
                            FROM pointage_horodatage AS p
                           WHERE r.type_pointage <> 'sortie' AND NOT r.ignore
                             AND p.timemoto_user_id = r.timemoto_user_id AND NOT p.ignore
                             AND p.type_pointage IN ('entree', 'sortie')
                             AND p.horodatage >= r.horodatage
                             AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                                  p.event_id COLLATE "C")
                                 > (r.horodatage, r.rang, r.fuseau_horaire COLLATE "C",
                                    r.event_id COLLATE "C")
                           ORDER BY p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                                    p.event_id COLLATE "C"
                           LIMIT 1) AS ap ON true
                    ) AS b
              ) AS a
    ),
    -- The candidates whose attribution changed, or that the statement touched.
    ecarts AS (
        SELECT c.u, c.calculee, c.stockee, c.touche
          FROM calculees AS c
         WHERE c.touche OR c.calculee IS DISTINCT FROM c.stockee
    ),
    ecrites AS (
        UPDATE pointage_horodatage AS p
           SET jour_rattache = (e.calculee).jour, travail_us = (e.calculee).travail_us,
               anomalie = (e.calculee).anomalie, poste_ferme = (e.calculee).poste_ferme,
               motif_anomalie = (e.calculee).motif_anomalie, pause_us = (e.calculee).pause_us
          FROM ecarts AS e
         WHERE p.id = (e.calculee).id AND e.calculee IS DISTINCT FROM e.stockee
    ),
    -- What the months gain and lose: the computed attributions in; out, the stored ones they
    -- count (not those of touched rows), and those of the rows as they were.
    mouvements AS (
        SELECT e.u, e.calculee AS a, 1 AS signe FROM ecarts AS e
        UNION ALL
        SELECT e.u, e.stockee, -1 FROM ecarts AS e WHERE NOT e.touche
        UNION ALL
        SELECT o.timemoto_user_id,
               (o.id, o.jour_rattache, o.travail_us, o.anomalie, o.poste_ferme, o.motif_anomalie,
                o.pause_us)::pointage_attribution,
               -1
          FROM unnest(p_anciens) AS o
    )
    SELECT array_agg(m.u), array_agg(m.a), array_agg(m.signe)
      INTO v_users, v_attributions, v_signes
      FROM mouvements AS m;
    IF v_users IS NOT NULL THEN
        PERFORM pointage_compter(v_users, v_attributions, v_signes);
    END IF;
END;
$$;

-- Recompute a user's whole history from scratch (repair; first installation over old rows).
CREATE OR REPLACE FUNCTION pointage_recalculer_utilisateur(p_user text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pointage_verrouiller(p_user);
    DELETE FROM pointage_resume_mensuel WHERE timemoto_user_id = p_user;
    DELETE FROM pointage WHERE user_id = (SELECT e.id FROM equipe AS e
                                           WHERE e.timemoto_user_id = p_user);
    DELETE FROM pointage_resume WHERE user_id = (SELECT e.id FROM equipe AS e
                                                  WHERE e.timemoto_user_id = p_user);
    -- Every punch as if just inserted: what it stores counts nowhere now.
    PERFORM pointage_recalculer(
        ARRAY(SELECT p FROM pointage_horodatage AS p WHERE p.timemoto_user_id = p_user), '{}');
    UPDATE equipe SET temps_travaille_mois = 0, minutes_travaillees_mois = 0
     WHERE timemoto_user_id = p_user
       AND (temps_travaille_mois <> 0 OR minutes_travaillees_mois <> 0)
       AND NOT EXISTS (SELECT FROM pointage_resume_mensuel WHERE timemoto_user_id = p_user);
END;
$$;

-- =============================================================================================
-- 3. The triggers on pointage_horodatage
-- =============================================================================================

-- Before an insert: a punch whose delivery was stored and deleted before stays deleted (no
-- row: the insert answers "duplicate"). A punch is attached to the employee its TimeMoto user is
-- mapped to, whatever the insert says, and so is a punch moved to another user (equipe_id always
-- follows the row's own user). Its attribution is the trigger's to compute. The user's lock,
-- taken before reading the mapping, orders this with a concurrent (un)mapping of the user, and
-- with a concurrent delete of the same delivery. It is taken row by row: a statement inserting
-- several rows lists them by user (timemoto_user_id), so that concurrent statements take the
-- locks in one order.
CREATE OR REPLACE FUNCTION pointage_rattacher_equipe() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_supprime boolean;
    v_rang smallint;
    v_suivi boolean;  -- a punch of the user comes after this one
    v_pauses interval;
    -- the anchor before this punch
    v_ancre_type text;
    v_ancre_h timestamptz;
    v_ancre_rang smallint;
    v_ancre_fuseau text;
    v_ancre_event text;
    v_double boolean;  -- an imported punch and a delivered one would be the same clocking
BEGIN
    PERFORM pointage_verrouiller(NEW.timemoto_user_id);
    IF TG_OP <> 'INSERT' THEN
        SELECT e.id INTO NEW.equipe_id FROM equipe AS e
         WHERE e.timemoto_user_id = NEW.timemoto_user_id;
        RETURN NEW;
    END IF;
    NEW.jour_rattache := NULL;
    NEW.travail_us := 0;
    NEW.anomalie := false;
    NEW.poste_ferme := false;
    NEW.motif_anomalie := NULL;
    NEW.pause_us := 0;

    -- The usual punch comes after all of its user's punches. Then, unless it repeats the open
    -- shift's entree or closes a "shift" of over 24 hours, it changes no other punch, and its
    -- own attribution is known now (the rules of pointage_recalculer, for this one case):
    -- pointage_maj_resume only counts it. Any other punch keeps no date here, and
    -- pointage_maj_resume recomputes around it. (One query reads all this punch needs.)
    v_rang := pointage_rang(NEW.type_pointage);
    SELECT EXISTS (SELECT FROM pointage_supprime AS s WHERE s.event_id = NEW.event_id),
           (SELECT e.id FROM equipe AS e WHERE e.timemoto_user_id = NEW.timemoto_user_id),
           EXISTS (SELECT FROM pointage_horodatage AS p
                    WHERE p.timemoto_user_id = NEW.timemoto_user_id
                      AND p.horodatage >= pointage_seconde(NEW.horodatage)
                      AND p.horodatage < pointage_seconde(NEW.horodatage) + interval '1 second'
                      AND p.type_pointage = NEW.type_pointage AND p.ignore = NEW.ignore
                      AND (pointage_importe(NEW.event_id) OR pointage_importe(p.event_id))),
           EXISTS (SELECT FROM pointage_horodatage AS p
                    WHERE p.timemoto_user_id = NEW.timemoto_user_id AND NOT p.ignore
                      AND p.horodatage >= NEW.horodatage
                      AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                           p.event_id COLLATE "C")
                          > (NEW.horodatage, v_rang, NEW.fuseau_horaire COLLATE "C",
                             NEW.event_id COLLATE "C")),
           a.type_pointage, a.horodatage, a.rang, a.fuseau_horaire, a.event_id
      INTO v_supprime, NEW.equipe_id, v_double, v_suivi, v_ancre_type, v_ancre_h, v_ancre_rang,
           v_ancre_fuseau, v_ancre_event
      FROM (SELECT) AS x
      LEFT JOIN LATERAL (
          SELECT p.type_pointage, p.horodatage, p.rang, p.fuseau_horaire, p.event_id
            FROM pointage_horodatage AS p
           WHERE p.timemoto_user_id = NEW.timemoto_user_id AND NOT p.ignore
             AND p.type_pointage IN ('entree', 'sortie') AND p.horodatage <= NEW.horodatage
             AND (p.horodatage, p.rang, p.fuseau_horaire COLLATE "C", p.event_id COLLATE "C")
                 < (NEW.horodatage, v_rang, NEW.fuseau_horaire COLLATE "C",
                    NEW.event_id COLLATE "C")
           ORDER BY p.horodatage DESC, p.rang DESC, p.fuseau_horaire COLLATE "C" DESC,
                    p.event_id COLLATE "C" DESC
           LIMIT 1) AS a ON true;
    IF v_supprime OR v_double THEN
        RETURN NULL;
    ELSIF NEW.ignore OR v_suivi THEN
        RETURN NEW;
    END IF;
    IF NEW.type_pointage = 'entree' THEN
        IF v_ancre_type = 'entree' THEN
            RETURN NEW;  -- the open shift's entree becomes an anomaly
        END IF;
        NEW.jour_rattache := (NEW.horodatage AT TIME ZONE NEW.fuseau_horaire)::date;
    ELSIF NEW.type_pointage = 'sortie' THEN
        IF v_ancre_type IS DISTINCT FROM 'entree' THEN
            NEW.jour_rattache := (NEW.horodatage AT TIME ZONE NEW.fuseau_horaire)::date;
            NEW.anomalie := true;
            NEW.motif_anomalie := 'sortie_sans_poste';
        ELSIF NEW.horodatage - v_ancre_h > interval '24 hours' THEN
            RETURN NEW;  -- its entree becomes an anomaly too
        ELSE
            v_pauses := pointage_pauses(NEW.timemoto_user_id, v_ancre_h, v_ancre_rang,
                                        v_ancre_fuseau, v_ancre_event, NEW.horodatage, v_rang,
                                        NEW.fuseau_horaire, NEW.event_id);
            NEW.jour_rattache := (v_ancre_h AT TIME ZONE v_ancre_fuseau)::date;
            NEW.travail_us := round(extract(epoch FROM (NEW.horodatage - v_ancre_h) - v_pauses)
                                    * 1000000);
            NEW.poste_ferme := true;
            NEW.pause_us := round(extract(epoch FROM v_pauses) * 1000000);
        END IF;
    ELSIF v_ancre_type = 'entree' THEN
        -- a break or inconnu punch in the open shift
        NEW.jour_rattache := (v_ancre_h AT TIME ZONE v_ancre_fuseau)::date;
    ELSE
        NEW.jour_rattache := (NEW.horodatage AT TIME ZONE NEW.fuseau_horaire)::date;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS pointage_rattacher_equipe_trg ON pointage_horodatage;
CREATE TRIGGER pointage_rattacher_equipe_trg
    BEFORE INSERT OR UPDATE OF timemoto_user_id ON pointage_horodatage
    FOR EACH ROW EXECUTE FUNCTION pointage_rattacher_equipe();

-- After a delete: the delivery id is remembered (pointage_supprime).
CREATE OR REPLACE FUNCTION pointage_memoriser_suppression() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pointage_supprime (event_id) VALUES (OLD.event_id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS pointage_memoriser_suppression_trg ON pointage_horodatage;
CREATE TRIGGER pointage_memoriser_suppression_trg
    AFTER DELETE ON pointage_horodatage
    FOR EACH ROW EXECUTE FUNCTION pointage_memoriser_suppression();

-- After each statement that inserts, updates or deletes punches: the worked time of all the rows
-- it touched at once. One function for the three triggers below, which see the statement's rows
-- in their transition tables: `nouveaux` (inserted, or as updated), `anciens` (deleted, or as
-- they were).
CREATE OR REPLACE FUNCTION pointage_maj_resume() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_nouveaux pointage_horodatage[];
    v_anciens pointage_horodatage[];
    v_users text[];
    v_attributions pointage_attribution[];
    v_signes integer[];
    v_attribuees boolean;
    v_r record;
    v_insere pointage_horodatage;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The users' locks are held: pointage_rattacher_equipe took them. An ignored punch
        -- counts nowhere and changes nothing.
        SELECT array_agg(n.timemoto_user_id),
               array_agg((n.id, n.jour_rattache, n.travail_us, n.anomalie, n.poste_ferme,
                          n.motif_anomalie, n.pause_us)::pointage_attribution),
               array_agg(1), bool_and(n.jour_rattache IS NOT NULL)
          INTO v_users, v_attributions, v_signes, v_attribuees
          FROM nouveaux AS n
         WHERE NOT n.ignore;
        IF v_users IS NULL THEN
            RETURN NULL;
        ELSIF v_attribuees THEN
            -- Each was attributed as it was inserted, and changed no other punch. The ERP's day
            -- rows of the mapped users follow each punch in place, in its user's order (each
            -- was its user's latest when it came). One punch (the usual statement): by
            -- pointage_compter, which knows its employee.
            IF cardinality(v_users) = 1 THEN
                SELECT n.* INTO v_insere FROM nouveaux AS n WHERE NOT n.ignore;
                PERFORM pointage_compter(v_users, v_attributions, v_signes, false, v_insere);
                RETURN NULL;
            END IF;
            PERFORM pointage_compter(v_users, v_attributions, v_signes, false);
            FOR v_r IN
                SELECT n::pointage_horodatage AS punch, e.id AS equipe_id
                  FROM nouveaux AS n JOIN equipe AS e ON e.timemoto_user_id = n.timemoto_user_id
                 WHERE NOT n.ignore
                 ORDER BY n.timemoto_user_id, n.horodatage, n.rang, n.fuseau_horaire COLLATE "C",
                          n.event_id COLLATE "C"
            LOOP
                PERFORM pointage_erp_jour_ajoute(
                    v_r.equipe_id,
                    ((v_r.punch).id, (v_r.punch).jour_rattache, (v_r.punch).travail_us,
                     (v_r.punch).anomalie, (v_r.punch).poste_ferme, (v_r.punch).motif_anomalie,
                     (v_r.punch).pause_us)::pointage_attribution,
                    v_r.punch);
            END LOOP;
            RETURN NULL;
        END IF;
        SELECT array_agg(n::pointage_horodatage) INTO v_nouveaux FROM nouveaux AS n WHERE NOT n.ignore;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pointage_verrouiller(u.u)
           FROM (SELECT DISTINCT o.timemoto_user_id AS u FROM anciens AS o ORDER BY 1) AS u;
        SELECT array_agg(o::pointage_horodatage) INTO v_anciens FROM anciens AS o;
    ELSE
        -- The rows whose worked time may change: those where a column it depends on changed
        -- (not the trigger's own writes of the attribution columns, nor a new equipe_id).
        SELECT array_agg(n::pointage_horodatage), array_agg(o::pointage_horodatage) INTO v_nouveaux, v_anciens
          FROM anciens AS o JOIN nouveaux AS n ON n.id = o.id
         WHERE (o.timemoto_user_id, o.type_pointage, o.horodatage, o.fuseau_horaire, o.ignore,
                o.event_id)
               IS DISTINCT FROM
               (n.timemoto_user_id, n.type_pointage, n.horodatage, n.fuseau_horaire, n.ignore,
                n.event_id);
        IF v_anciens IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM pointage_verrouiller(u.u)
           FROM (SELECT a.timemoto_user_id AS u FROM unnest(v_anciens) AS a
                 UNION
                 SELECT n.timemoto_user_id FROM unnest(v_nouveaux) AS n
                 ORDER BY 1) AS u;
    END IF;
    IF v_nouveaux IS NULL AND v_anciens IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM pointage_recalculer(coalesce(v_nouveaux, '{}'), coalesce(v_anciens, '{}'));
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS pointage_maj_resume_trg ON pointage_horodatage;
CREATE TRIGGER pointage_maj_resume_trg
    AFTER INSERT ON pointage_horodatage REFERENCING NEW TABLE AS nouveaux
    FOR EACH STATEMENT EXECUTE FUNCTION pointage_maj_resume();
-- (PostgreSQL allows transition tables only on a trigger for one event, and without a list of
-- columns: one trigger per event.)
DROP TRIGGER IF EXISTS pointage_maj_resume_modification_trg ON pointage_horodatage;
CREATE TRIGGER pointage_maj_resume_modification_trg
    AFTER UPDATE ON pointage_horodatage REFERENCING OLD TABLE AS anciens NEW TABLE AS nouveaux
    FOR EACH STATEMENT EXECUTE FUNCTION pointage_maj_resume();
DROP TRIGGER IF EXISTS pointage_maj_resume_suppression_trg ON pointage_horodatage;
CREATE TRIGGER pointage_maj_resume_suppression_trg
    AFTER DELETE ON pointage_horodatage REFERENCING OLD TABLE AS anciens
    FOR EACH STATEMENT EXECUTE FUNCTION pointage_maj_resume();

-- =============================================================================================
-- 4. Links to equipe
-- =============================================================================================
-- Mapping a TimeMoto user to an employee (setting equipe.timemoto_user_id), or unmapping it,
-- carries its punches and months along, and makes its rows in the ERP's pointage and
-- pointage_resume appear (or go); an unmapped employee has worked 0 minutes as far as TimeMoto
-- knows.

CREATE OR REPLACE FUNCTION equipe_temps_travaille() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.timemoto_user_id IS NOT NULL THEN
        PERFORM pointage_verrouiller(OLD.timemoto_user_id);
    END IF;
    IF NEW.timemoto_user_id IS NOT NULL THEN
        PERFORM pointage_verrouiller(NEW.timemoto_user_id);
    END IF;
    NEW.minutes_travaillees_mois := coalesce((
        SELECT r.minutes_travaillees FROM pointage_resume_mensuel r
         WHERE r.timemoto_user_id = NEW.timemoto_user_id ORDER BY r.mois DESC LIMIT 1), 0);
    NEW.temps_travaille_mois := round(NEW.minutes_travaillees_mois / 60.0, 2);
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS equipe_temps_travaille_trg ON equipe;
CREATE TRIGGER equipe_temps_travaille_trg
    BEFORE INSERT OR UPDATE OF timemoto_user_id ON equipe
    FOR EACH ROW EXECUTE FUNCTION equipe_temps_travaille();

CREATE OR REPLACE FUNCTION equipe_rattacher_pointage() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.timemoto_user_id IS NOT NULL THEN
        UPDATE pointage_horodatage SET equipe_id = NULL
         WHERE timemoto_user_id = OLD.timemoto_user_id AND equipe_id = OLD.id;
        UPDATE pointage_resume_mensuel SET equipe_id = NULL
         WHERE timemoto_user_id = OLD.timemoto_user_id AND equipe_id = OLD.id;
        IF OLD.timemoto_user_id IS DISTINCT FROM NEW.timemoto_user_id THEN
            DELETE FROM pointage WHERE user_id = OLD.id;
            DELETE FROM pointage_resume WHERE user_id = OLD.id;
        END IF;
    END IF;
    IF NEW.timemoto_user_id IS NOT NULL THEN
        UPDATE pointage_horodatage SET equipe_id = NEW.id
         WHERE timemoto_user_id = NEW.timemoto_user_id AND equipe_id IS DISTINCT FROM NEW.id;
        UPDATE pointage_resume_mensuel SET equipe_id = NEW.id
         WHERE timemoto_user_id = NEW.timemoto_user_id AND equipe_id IS DISTINCT FROM NEW.id;
        PERFORM pointage_erp_synchroniser(array_agg(p.timemoto_user_id), array_agg(p.jour))
           FROM (SELECT DISTINCT timemoto_user_id, jour_rattache AS jour
                   FROM pointage_horodatage
                  WHERE timemoto_user_id = NEW.timemoto_user_id AND jour_rattache IS NOT NULL) AS p
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS equipe_rattacher_pointage_trg ON equipe;
CREATE TRIGGER equipe_rattacher_pointage_trg
    AFTER INSERT OR UPDATE OF timemoto_user_id ON equipe
    FOR EACH ROW EXECUTE FUNCTION equipe_rattacher_pointage();

-- =============================================================================================
-- 5. Views
-- =============================================================================================

-- v_pointage_detail, as the ERP reads it: each of its pointage rows (one per employee and day)
-- with the employee's name, function and email, and whether it was late. Created over the
-- ERP's own view of that name when the columns allow, else in its place.
DO $$
BEGIN
    EXECUTE $v$
        CREATE OR REPLACE VIEW v_pointage_detail AS
        SELECT p.id, p.timemoto_id, p.user_id, p.date, p.check_in, p.check_out,
               p.heures_travaillees, p.present, p.retard_minutes, p.created_at, p.updated_at,
               e.nom, e.prenom, e.fonction, e.email,
               (p.retard_minutes > 0) AS a_retard
          FROM pointage p
          JOIN equipe e ON e.id = p.user_id
    $v$;
EXCEPTION WHEN invalid_table_definition OR datatype_mismatch OR wrong_object_type THEN
    DROP VIEW v_pointage_detail;
    EXECUTE $v$
        CREATE VIEW v_pointage_detail AS
        SELECT p.id, p.timemoto_id, p.user_id, p.date, p.check_in, p.check_out,
               p.heures_travaillees, p.present, p.retard_minutes, p.created_at, p.updated_at,
               e.nom, e.prenom, e.fonction, e.email,
               (p.retard_minutes > 0) AS a_retard
          FROM pointage p
          JOIN equipe e ON e.id = p.user_id
    $v$;
END;
$$;

-- One row per TimeMoto user and work date (docs/contract.md §7, the export's "Détail par jour"):
--   timemoto_user_id     the TimeMoto user
--   equipe_id            its employee (equipe.id), NULL while the user is not mapped
--   date_travail         the work date: the date the punches count on (`jour_rattache`: a
--                        shift's punches count on its entree's local date)
--   premiere_entree      local time (in the punch's zone, without offset) of the first entree
--                        counting on that date, anomalous or not; NULL when there is none
--   derniere_sortie      local time of the last sortie counting on that date; NULL when none
--   minutes_pause        break minutes inside the date's closed shifts, total rounded down
--   minutes_travaillees  worked minutes of the date, total rounded down (a month's
--                        minutes_travaillees sums the microseconds first, so it can exceed the
--                        sum of its days' minutes)
--   nb_pointages         punches counting on that date
--   nb_anomalies         of which anomalies (the reasons: pointage.motif_anomalie)
-- Ignored punches are left out. "First" and "last" follow the punches' order (section 1).
CREATE OR REPLACE VIEW v_pointage_jour AS
SELECT p.timemoto_user_id,
       e.id AS equipe_id,
       p.jour_rattache AS date_travail,
       (array_agg(p.horodatage AT TIME ZONE p.fuseau_horaire
                  ORDER BY p.horodatage, p.rang, p.fuseau_horaire COLLATE "C",
                           p.event_id COLLATE "C")
            FILTER (WHERE p.type_pointage = 'entree'))[1] AS premiere_entree,
       (array_agg(p.horodatage AT TIME ZONE p.fuseau_horaire
                  ORDER BY p.horodatage DESC, p.rang DESC, p.fuseau_horaire COLLATE "C" DESC,
                           p.event_id COLLATE "C" DESC)
            FILTER (WHERE p.type_pointage = 'sortie'))[1] AS derniere_sortie,
       (sum(p.pause_us)::bigint / 60000000)::integer AS minutes_pause,
       (sum(p.travail_us)::bigint / 60000000)::integer AS minutes_travaillees,
       count(*)::integer AS nb_pointages,
       (count(*) FILTER (WHERE p.anomalie))::integer AS nb_anomalies
FROM pointage_horodatage p
LEFT JOIN equipe e ON e.timemoto_user_id = p.timemoto_user_id
WHERE NOT p.ignore AND p.jour_rattache IS NOT NULL
GROUP BY p.timemoto_user_id, e.id, p.jour_rattache;

-- =============================================================================================
-- 6. Upgrades of a database set up by an older version
-- =============================================================================================

-- Functions replaced by the ones above (other names or signatures).
DROP FUNCTION IF EXISTS pointage_resume_ajouter(text, date[], bigint[], integer[], integer[],
                                                integer[]);
DROP FUNCTION IF EXISTS pointage_retirer(text, date, bigint, boolean, boolean);
DROP FUNCTION IF EXISTS pointage_entree_anomalie(bigint, date);
-- (until the set-based recomputation: one punch at a time, by row triggers)
DROP FUNCTION IF EXISTS pointage_recalculer(text, timestamptz, smallint, text, text);
DROP FUNCTION IF EXISTS pointage_retirer(pointage_horodatage);
DROP FUNCTION IF EXISTS pointage_maj_equipe(text);
DROP FUNCTION IF EXISTS pointage_resume_ajouter(text, pointage_attribution[],
                                                pointage_attribution[], date[], date[]);
DROP FUNCTION IF EXISTS pointage_jours_travailles(text, date[]);
DROP FUNCTION IF EXISTS pointage_sur_jour(bigint, date);
DROP FUNCTION IF EXISTS pointage_sur_jour(pointage_attribution[], date);
DROP FUNCTION IF EXISTS pointage_anomalie(bigint, date, text);
DROP FUNCTION IF EXISTS pointage_fin_de_poste(bigint, date, bigint, bigint);
DROP FUNCTION IF EXISTS pointage_entree_repetee(bigint, date);

-- Punches stored before worked time was kept (no work date), or before break times and anomaly
-- reasons were (no pause_us): attribute their users' histories again, once.
DO $$
DECLARE
    v_user text;
BEGIN
    FOR v_user IN SELECT DISTINCT p.timemoto_user_id FROM pointage_horodatage p
                   WHERE NOT p.ignore AND (p.jour_rattache IS NULL OR p.pause_us IS NULL) LOOP
        PERFORM pointage_recalculer_utilisateur(v_user);
    END LOOP;
END;
$$;

-- Then every anomaly has its reason, and only anomalies have one.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                    WHERE conrelid = 'pointage_horodatage'::regclass
                      AND conname = 'pointage_horodatage_motif_anomalie_coherent') THEN
        ALTER TABLE pointage_horodatage
            ADD CONSTRAINT pointage_horodatage_motif_anomalie_coherent CHECK (anomalie = (motif_anomalie IS NOT NULL));
    END IF;
END;
$$;

-- =============================================================================================
-- 7. What this run did
-- =============================================================================================
-- After an upgrade, the ERP's rows and equipe's figures of every mapped user, from the
-- clockings; then the one line (section 0) as a NOTICE, kept in pointage.schema_applique.
DO $$
DECLARE
    v_ligne text := current_setting('pointage.schema_applique');
    v_jours bigint;
    v_mois bigint;
BEGIN
    IF starts_with(v_ligne, 'upgraded') THEN
        PERFORM pointage_erp_synchroniser(array_agg(p.timemoto_user_id), array_agg(p.jour))
           FROM (SELECT DISTINCT p.timemoto_user_id, p.jour_rattache AS jour
                   FROM pointage_horodatage AS p
                   JOIN equipe AS e ON e.timemoto_user_id = p.timemoto_user_id
                  WHERE p.jour_rattache IS NOT NULL) AS p
         HAVING count(*) > 0;
        UPDATE equipe AS e
           SET minutes_travaillees_mois = d.minutes, temps_travaille_mois = round(d.minutes / 60.0, 2)
          FROM (SELECT e.id,
                       coalesce((SELECT r.minutes_travaillees FROM pointage_resume_mensuel AS r
                                  WHERE r.timemoto_user_id = e.timemoto_user_id
                                  ORDER BY r.mois DESC LIMIT 1), 0) AS minutes
                  FROM equipe AS e WHERE e.timemoto_user_id IS NOT NULL) AS d
         WHERE e.id = d.id
           AND (e.minutes_travaillees_mois IS DISTINCT FROM d.minutes
                OR e.temps_travaille_mois IS DISTINCT FROM round(d.minutes / 60.0, 2));
        SELECT count(*) INTO v_jours FROM pointage;
        SELECT count(*) INTO v_mois FROM pointage_resume;
        v_ligne := v_ligne || format(' (%s days and %s months of mapped employees)', v_jours,
                                     v_mois);
    ELSIF v_ligne = '' THEN
        v_ligne := 'in place, nothing to upgrade';
    END IF;
    PERFORM set_config('pointage.schema_applique', v_ligne, false);
    RAISE NOTICE 'pointage schema %', v_ligne;
END;
$$;

COMMIT;
