-- The labeling queue in PostgreSQL (issue 13). Loaded by migration 0005_loop_slots; see annotation/models/queue.py.
-- Slots, cursors and counters are derived from items, projects and labels by the triggers below; the queue's two
-- calls (ps_queue_next, ps_label_submit) are one round trip each.
--
-- The entry points run with `enable_seqscan = off` (migration 0017_hot_path_plans): PL/pgSQL keeps a generic plan per
-- statement for the session, planned after five calls with the statistics of that moment, and in a new database the
-- label and assignment tables are empty then; the plan went on scanning them whole on every call as they grew.
-- Every statement here has an index that serves it.

CREATE SEQUENCE IF NOT EXISTS ps_queue_started_seq;

-- Is the item still open for people? (the states of selectors.labeling.OPEN_STATES, not routed to AI only)
CREATE OR REPLACE FUNCTION ps_item_open(p_state text, p_route text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT p_state IN ('new', 'judged', 'routed', 'labeling') AND p_route <> 'ai' $$;

-- Counters rows exist for every project (created with it), so item triggers only ever UPDATE them.
CREATE OR REPLACE FUNCTION ps_project_queue_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO annotation_queuecounter (project_id, shard, wanted, free_items)
  SELECT NEW.id, s, 0, 0 FROM generate_series(0, 7) s ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

-- Recompute a project's slots and counters from its items (overlap changed, bulk loads, repairs).
CREATE OR REPLACE FUNCTION ps_queue_rebuild(p_project bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE ov integer;
BEGIN
  SELECT overlap INTO ov FROM annotation_project WHERE id = p_project;
  DELETE FROM annotation_queueslot WHERE project_id = p_project;
  INSERT INTO annotation_queueslot (project_id, item_id, started_seq, priority)
  SELECT i.project_id, i.id,
         CASE WHEN i.n_human_labels + i.n_leases > 0 THEN nextval('ps_queue_started_seq') END, i.priority
  FROM annotation_item i CROSS JOIN LATERAL generate_series(1, ov - i.n_human_labels - i.n_leases) g
  WHERE i.project_id = p_project AND ps_item_open(i.state, i.route) AND i.n_human_labels + i.n_leases < ov
  ORDER BY i.id;
  INSERT INTO annotation_queuecounter (project_id, shard, wanted, free_items)
  SELECT p_project, s, 0, 0 FROM generate_series(0, 7) s ON CONFLICT DO NOTHING;
  UPDATE annotation_queuecounter c SET wanted = coalesce(t.wanted, 0), free_items = coalesce(t.free, 0)
  FROM generate_series(0, 7) s
  LEFT JOIN (
    SELECT (i.id % 8)::smallint AS shard, sum(greatest(ov - i.n_human_labels, 0)) AS wanted,
           count(*) FILTER (WHERE i.n_human_labels + i.n_leases < ov) AS free
    FROM annotation_item i WHERE i.project_id = p_project AND ps_item_open(i.state, i.route) GROUP BY 1
  ) t ON t.shard = s
  WHERE c.project_id = p_project AND c.shard = s;
END $$;

-- Slots and counters for items a bulk import inserted while their row trigger was skipped (prefstudio.queue_bulk =
-- 'on', see ps_item_queue_ins in migration 0009): in one pass, what ps_item_queue_sync does for each inserted item
-- (a new item has no slots yet). The import calls it once, in its transaction, after the last item is written.
CREATE OR REPLACE FUNCTION ps_queue_items_added(p_project bigint, p_items bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE ov integer;
BEGIN
  SELECT overlap INTO ov FROM annotation_project WHERE id = p_project;
  UPDATE annotation_queuecounter c SET wanted = c.wanted + t.wanted, free_items = c.free_items + t.free
  FROM (
    SELECT (i.id % 8)::smallint AS shard, sum(greatest(ov - i.n_human_labels, 0)) AS wanted,
           count(*) FILTER (WHERE i.n_human_labels + i.n_leases < ov) AS free
    FROM annotation_item i WHERE i.id = ANY(p_items) AND i.project_id = p_project AND ps_item_open(i.state, i.route)
    GROUP BY 1
  ) t
  WHERE c.project_id = p_project AND c.shard = t.shard;
  INSERT INTO annotation_queueslot (project_id, item_id, started_seq, priority)
  SELECT i.project_id, i.id,
         CASE WHEN i.n_human_labels + i.n_leases > 0 THEN nextval('ps_queue_started_seq') END, i.priority
  FROM annotation_item i CROSS JOIN LATERAL generate_series(1, ov - i.n_human_labels - i.n_leases) g
  WHERE i.id = ANY(p_items) AND i.project_id = p_project AND ps_item_open(i.state, i.route)
    AND i.n_human_labels + i.n_leases < ov
  ORDER BY i.id;
END $$;

CREATE OR REPLACE FUNCTION ps_project_overlap_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ps_queue_rebuild(NEW.id);
  RETURN NULL;
END $$;

-- Keep an item's slots and its project's counters in step with its state, route, counters and priority.
-- Slots held by a concurrent taker (row-locked) are skipped, never waited for: that taker re-checks the item under
-- its row lock and drops a slot that is no longer open.
CREATE OR REPLACE FUNCTION ps_item_queue_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ov integer;
  want_old integer := 0; want_new integer := 0; free_old integer := 0; free_new integer := 0;
  have integer;
BEGIN
  SELECT overlap INTO ov FROM annotation_project WHERE id = COALESCE(NEW.project_id, OLD.project_id);
  IF TG_OP <> 'INSERT' AND ps_item_open(OLD.state, OLD.route) THEN
    want_old := greatest(ov - OLD.n_human_labels, 0);
    free_old := greatest(ov - OLD.n_human_labels - OLD.n_leases, 0);
  END IF;
  IF TG_OP <> 'DELETE' AND ps_item_open(NEW.state, NEW.route) THEN
    want_new := greatest(ov - NEW.n_human_labels, 0);
    free_new := greatest(ov - NEW.n_human_labels - NEW.n_leases, 0);
  END IF;
  IF want_new <> want_old OR sign(free_new) <> sign(free_old) THEN
    UPDATE annotation_queuecounter
       SET wanted = wanted + (want_new - want_old), free_items = free_items + (sign(free_new) - sign(free_old))
     WHERE project_id = COALESCE(NEW.project_id, OLD.project_id) AND shard = COALESCE(NEW.id, OLD.id) % 8;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND free_new = free_old AND NEW.priority = OLD.priority
     AND (NEW.n_human_labels + NEW.n_leases > 0) = (OLD.n_human_labels + OLD.n_leases > 0) THEN
    RETURN NULL;  -- e.g. a submit: one lease became one label
  END IF;
  SELECT count(*) INTO have FROM annotation_queueslot WHERE item_id = NEW.id;
  IF free_new > have THEN
    -- A slot that comes back (skip, expiry, overlap) goes to the started part: others get it soon.
    INSERT INTO annotation_queueslot (project_id, item_id, started_seq, priority)
    SELECT NEW.project_id, NEW.id,
           CASE WHEN TG_OP = 'UPDATE' OR NEW.n_human_labels + NEW.n_leases > 0
                THEN nextval('ps_queue_started_seq') END,
           NEW.priority
    FROM generate_series(1, free_new - have);
  ELSIF free_new < have THEN
    DELETE FROM annotation_queueslot WHERE id IN (
      SELECT id FROM annotation_queueslot WHERE item_id = NEW.id
      ORDER BY started_seq NULLS FIRST LIMIT have - free_new FOR UPDATE SKIP LOCKED);
  END IF;
  IF NEW.n_human_labels + NEW.n_leases > 0 THEN
    UPDATE annotation_queueslot SET started_seq = nextval('ps_queue_started_seq') WHERE id IN (
      SELECT id FROM annotation_queueslot WHERE item_id = NEW.id AND started_seq IS NULL FOR UPDATE SKIP LOCKED);
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.priority <> OLD.priority THEN
    UPDATE annotation_queueslot SET priority = NEW.priority WHERE id IN (
      SELECT id FROM annotation_queueslot WHERE item_id = NEW.id FOR UPDATE SKIP LOCKED);
  END IF;
  RETURN NULL;
END $$;

-- mine_done: labels per annotator and project, counted on write (statement level: an import of a million labels
-- costs one grouped upsert, not a million).
CREATE OR REPLACE FUNCTION ps_label_done_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO annotation_queuecursor AS c (annotator_id, project_id, started_seq, n_done)
  SELECT l.annotator_id, i.project_id, 0, count(*)
  FROM new_labels l JOIN annotation_item i ON i.id = l.item_id
  GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (annotator_id, project_id) DO UPDATE SET n_done = c.n_done + excluded.n_done;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ps_label_done_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE annotation_queuecursor c SET n_done = greatest(c.n_done - d.n, 0)
  FROM (SELECT l.annotator_id, i.project_id, count(*) AS n
        FROM old_labels l JOIN annotation_item i ON i.id = l.item_id GROUP BY 1, 2) d
  WHERE c.annotator_id = d.annotator_id AND c.project_id = d.project_id;
  RETURN NULL;
END $$;

-- Overdue leases: expired, their slots freed (the item trigger puts the slots back). Bounded per call.
CREATE OR REPLACE FUNCTION ps_leases_expire(p_now timestamptz, p_limit integer) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE r record; n integer := 0;
BEGIN
  FOR r IN
    WITH overdue AS (
      SELECT a.id, a.item_id FROM annotation_assignment a
      WHERE a.status = 'active' AND a.expires_at <= p_now
      ORDER BY a.expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), done AS (
      UPDATE annotation_assignment a SET status = 'expired', released_at = p_now
      FROM overdue o WHERE a.id = o.id RETURNING a.item_id
    )
    SELECT item_id, count(*) AS k FROM done GROUP BY item_id ORDER BY item_id
  LOOP
    UPDATE annotation_item SET n_leases = greatest(n_leases - r.k, 0), updated_at = p_now WHERE id = r.item_id;
    n := n + r.k;
  END LOOP;
  RETURN n;
END $$;

-- The next item for an annotator in a project: their live lease, or a new lease on the first open slot they may
-- take. One statement, one transaction; the annotator's cursor row serialises their own requests (two tabs).
-- Walk: started slots after the annotator's cursor (oldest first), then fresh slots (priority, id), then started
-- slots before the cursor (a slot that came back from a crashed taker), then anything, waiting for busy rows.
CREATE OR REPLACE FUNCTION ps_queue_next(p_project bigint, p_annotator bigint, p_now timestamptz)
RETURNS TABLE (assignment_id bigint, item_id bigint, status text, expires_at timestamptz, created_at timestamptz,
               mine_done integer, project_left bigint, free_items bigint)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  cur bigint; done integer; ov integer; lease_min integer;
  s record; took bigint; lid bigint; lexp timestamptz; lcreated timestamptz; lstatus text := 'active';
  tries integer := 0; pass integer; hi bigint;
BEGIN
  -- One overdue lease per call: expiring several would lock several items while holding counter rows (deadlock-prone
  -- against submits); with every `next` doing one, overdue leases still drain faster than they can pile up.
  IF EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.status = 'active' AND a.expires_at <= p_now) THEN
    PERFORM ps_leases_expire(p_now, 1);
  END IF;
  SELECT c.started_seq, c.n_done INTO cur, done FROM annotation_queuecursor c
   WHERE c.annotator_id = p_annotator AND c.project_id = p_project FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO annotation_queuecursor (annotator_id, project_id, started_seq, n_done)
    VALUES (p_annotator, p_project, 0, 0) ON CONFLICT DO NOTHING;
    SELECT c.started_seq, c.n_done INTO cur, done FROM annotation_queuecursor c
     WHERE c.annotator_id = p_annotator AND c.project_id = p_project FOR UPDATE;
  END IF;
  SELECT a.id, a.item_id, a.expires_at, a.created_at INTO lid, took, lexp, lcreated
  FROM annotation_assignment a JOIN annotation_item i ON i.id = a.item_id
  WHERE a.annotator_id = p_annotator AND a.status = 'active' AND a.expires_at > p_now AND i.project_id = p_project
  ORDER BY a.created_at LIMIT 1;
  IF lid IS NULL THEN
    SELECT p.overlap, p.lease_minutes INTO ov, lease_min FROM annotation_project p WHERE p.id = p_project;
    LOOP
      tries := tries + 1;
      EXIT WHEN tries > 1000;
      s := NULL; pass := 1;
      SELECT coalesce(max(q.started_seq), 0) INTO hi FROM annotation_queueslot q
       WHERE q.project_id = p_project AND q.started_seq IS NOT NULL;
      -- walk:started (tests/annotation/test_queue_hot_path.py EXPLAINs the statements marked walk:)
      SELECT q.id, q.item_id, q.started_seq INTO s FROM annotation_queueslot q
      WHERE q.project_id = p_project AND q.started_seq > cur
        AND NOT EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = q.item_id AND l.annotator_id = p_annotator)
        AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.item_id = q.item_id
                        AND a.annotator_id = p_annotator AND a.status IN ('active', 'skipped'))
      ORDER BY q.started_seq LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF s.id IS NULL THEN
        -- No started slot after the cursor is this annotator's: each is on an item they labeled, hold or skipped
        -- (never theirs) or was locked by another taker (pass 3 finds it if it comes back). The cursor moves past
        -- all of them, up to the last one this call could see (`hi`, read before the walk), so that the next call
        -- does not walk them again: without it an annotator alone on a project re-read every item they had
        -- labeled on every call (the walk grew with their labels; bench/RESULTS.md, round 3).
        cur := greatest(cur, hi);
        pass := 2;
        -- walk:fresh
        SELECT q.id, q.item_id, q.started_seq INTO s FROM annotation_queueslot q
        WHERE q.project_id = p_project AND q.started_seq IS NULL
          AND NOT EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = q.item_id AND l.annotator_id = p_annotator)
          AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.item_id = q.item_id
                          AND a.annotator_id = p_annotator AND a.status IN ('active', 'skipped'))
        ORDER BY q.priority DESC, q.item_id LIMIT 1 FOR UPDATE SKIP LOCKED;
      END IF;
      IF s.id IS NULL THEN
        pass := 3;
        SELECT q.id, q.item_id, q.started_seq INTO s FROM annotation_queueslot q
        WHERE q.project_id = p_project AND q.started_seq <= cur
          AND NOT EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = q.item_id AND l.annotator_id = p_annotator)
          AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.item_id = q.item_id
                          AND a.annotator_id = p_annotator AND a.status IN ('active', 'skipped'))
        ORDER BY q.started_seq LIMIT 1 FOR UPDATE SKIP LOCKED;
      END IF;
      IF s.id IS NULL THEN
        -- SKIP LOCKED also skips slots that are busy only for a moment: wait for them before saying "none left".
        pass := 4;
        SELECT q.id, q.item_id, q.started_seq INTO s FROM annotation_queueslot q
        WHERE q.project_id = p_project
          AND NOT EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = q.item_id AND l.annotator_id = p_annotator)
          AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.item_id = q.item_id
                          AND a.annotator_id = p_annotator AND a.status IN ('active', 'skipped'))
        LIMIT 1 FOR UPDATE;
      END IF;
      EXIT WHEN s.id IS NULL;
      DELETE FROM annotation_queueslot WHERE id = s.id;
      UPDATE annotation_item i SET n_leases = i.n_leases + 1, updated_at = p_now
       WHERE i.id = s.item_id AND ps_item_open(i.state, i.route) AND i.n_human_labels + i.n_leases < ov
      RETURNING i.id INTO took;
      IF pass = 1 THEN
        cur := s.started_seq;  -- every started slot before it was passed: not the annotator's to take
      END IF;
      CONTINUE WHEN took IS NULL;  -- a stale slot (the item closed meanwhile): dropped, walk on
      INSERT INTO annotation_assignment (item_id, annotator_id, status, expires_at, skip_reason, created_at)
      VALUES (took, p_annotator, 'active', p_now + make_interval(mins => lease_min), '', now())
      RETURNING id, annotation_assignment.expires_at, annotation_assignment.created_at INTO lid, lexp, lcreated;
      EXIT;
    END LOOP;
    UPDATE annotation_queuecursor c SET started_seq = cur
     WHERE c.annotator_id = p_annotator AND c.project_id = p_project AND c.started_seq <> cur;
  END IF;
  RETURN QUERY
    SELECT lid, took, lstatus, lexp, lcreated, done, sum(k.wanted)::bigint, sum(k.free_items)::bigint
    FROM annotation_queuecounter k WHERE k.project_id = p_project;
END $$;

-- The same for a user and a project slug (the REST hot path): membership and annotator in the same statement.
-- code: 'ok' (assignment_id null: nothing left), 'not_member', 'no_annotator', 'attention' (the project serves
-- attention checks on their own schedule: the caller takes the ORM path, services/attention.py). item: the item,
-- its prompt and responses as the API shows them.
CREATE OR REPLACE FUNCTION ps_queue_next_for_user(p_user bigint, p_slug text, p_now timestamptz)
RETURNS TABLE (code text, project_id bigint, annotator_id bigint, assignment_id bigint, status text,
               expires_at timestamptz, mine_done integer, project_left bigint, free_items bigint, item jsonb)
LANGUAGE plpgsql AS $$
DECLARE pid bigint; aid bigint; r record; ref_use text;
BEGIN
  SELECT p.id, p.reference_use INTO pid, ref_use FROM annotation_project p
    JOIN annotation_membership m ON m.project_id = p.id
   WHERE p.slug = p_slug AND m.user_id = p_user;
  IF pid IS NULL THEN
    RETURN QUERY SELECT 'not_member'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                        NULL::timestamptz, NULL::integer, NULL::bigint, NULL::bigint, NULL::jsonb;
    RETURN;
  END IF;
  IF ref_use = 'attention' THEN
    RETURN QUERY SELECT 'attention'::text, pid, NULL::bigint, NULL::bigint, NULL::text,
                        NULL::timestamptz, NULL::integer, NULL::bigint, NULL::bigint, NULL::jsonb;
    RETURN;
  END IF;
  SELECT a.id INTO aid FROM annotation_annotator a WHERE a.user_id = p_user;
  IF aid IS NULL THEN
    RETURN QUERY SELECT 'no_annotator'::text, pid, NULL::bigint, NULL::bigint, NULL::text,
                        NULL::timestamptz, NULL::integer, NULL::bigint, NULL::bigint, NULL::jsonb;
    RETURN;
  END IF;
  SELECT * INTO r FROM ps_queue_next(pid, aid, p_now);
  RETURN QUERY SELECT 'ok'::text, pid, aid, r.assignment_id, r.status, r.expires_at, r.mine_done, r.project_left,
    r.free_items,
    CASE WHEN r.item_id IS NULL THEN NULL ELSE (
      SELECT jsonb_build_object(
        'id', i.id, 'external_id', i.external_id, 'kind', i.kind,
        'prompt', jsonb_build_object('id', pr.id, 'external_id', pr.external_id, 'messages', pr.messages),
        'responses', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'position', s.position, 'response', s.response_id, 'external_id', rs.external_id,
                        'text', rs.text, 'model_name', rs.model_name) ORDER BY s.position), '[]'::jsonb)
                      FROM annotation_itemresponse s JOIN annotation_response rs ON rs.id = s.response_id
                      WHERE s.item_id = i.id))
      FROM annotation_item i JOIN annotation_prompt pr ON pr.id = i.prompt_id WHERE i.id = r.item_id) END;
END $$;

-- The same for the holder of an API token (the REST hot path, annotation/api/hot.py): the token, its user (active)
-- and its age are checked in the same statement, so a revoked (deleted) or expired token stops working at once.
-- code 'bad_token': no such live token (the caller answers through DRF's authentication, for its exact 401).
CREATE OR REPLACE FUNCTION ps_queue_next_for_token(p_key text, p_slug text, p_now timestamptz,
                                                   p_issued_after timestamptz)
RETURNS TABLE (code text, user_id bigint, project_id bigint, annotator_id bigint, assignment_id bigint, status text,
               expires_at timestamptz, mine_done integer, project_left bigint, free_items bigint, item jsonb)
LANGUAGE plpgsql AS $$
DECLARE uid bigint;
BEGIN
  SELECT t.user_id INTO uid FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id
   WHERE t.key = p_key AND u.is_active AND t.created > p_issued_after;
  IF uid IS NULL THEN
    RETURN QUERY SELECT 'bad_token'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                        NULL::timestamptz, NULL::integer, NULL::bigint, NULL::bigint, NULL::jsonb;
    RETURN;
  END IF;
  RETURN QUERY SELECT n.code, uid, n.project_id, n.annotator_id, n.assignment_id, n.status, n.expires_at, n.mine_done,
                      n.project_left, n.free_items, n.item
               FROM ps_queue_next_for_user(uid, p_slug, p_now) n;
END $$;

-- A person's label on their lease, which it releases; the item's counters, state and source move with it.
-- code: 'ok' | 'replay' (the label an earlier call with this key stored) | 'not_found' | 'inactive:<status>' |
-- 'expired' | 'key_conflict' | 'already' | 'closed'. The payload was validated by the caller
-- (services.labels, the importer's rules), against the item and project read in the same request.
CREATE OR REPLACE FUNCTION ps_label_submit(
  p_assignment bigint, p_annotator bigint, p_now timestamptz, p_key text,
  p_winner text, p_strength integer, p_aspects jsonb, p_rationale text, p_ranking jsonb, p_thumbs boolean,
  p_shown jsonb, p_time integer)
RETURNS TABLE (code text, label_id bigint, item_id bigint, kind text, created_at timestamptz, route text,
               n_judge integer)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE a record; it record; lab record; new_id bigint; new_at timestamptz; nh integer;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT l.id, l.item_id, l.annotator_id, l.kind, l.created_at INTO lab FROM annotation_label l
     WHERE l.idempotency_key = p_key;
    IF lab.id IS NOT NULL THEN
      IF lab.annotator_id <> p_annotator OR NOT EXISTS (
          SELECT 1 FROM annotation_assignment x WHERE x.id = p_assignment AND x.annotator_id = p_annotator
             AND x.item_id = lab.item_id) THEN
        RETURN QUERY SELECT 'key_conflict'::text, NULL::bigint, NULL::bigint, NULL::text, NULL::timestamptz,
                            NULL::text, NULL::integer;
        RETURN;
      END IF;
      RETURN QUERY SELECT 'replay'::text, lab.id, lab.item_id, lab.kind::text, lab.created_at, NULL::text,
                          NULL::integer;
      RETURN;
    END IF;
  END IF;
  SELECT x.id, x.item_id, x.status, x.expires_at INTO a FROM annotation_assignment x
   WHERE x.id = p_assignment AND x.annotator_id = p_annotator FOR UPDATE;
  IF a.id IS NULL THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::text, NULL::timestamptz, NULL::text,
                        NULL::integer;
    RETURN;
  END IF;
  IF a.status <> 'active' THEN
    -- A double click: the other request held the lease and committed; its label answers this one too.
    IF p_key IS NOT NULL THEN
      SELECT l.id, l.item_id, l.annotator_id, l.kind, l.created_at INTO lab FROM annotation_label l
       WHERE l.idempotency_key = p_key AND l.annotator_id = p_annotator AND l.item_id = a.item_id;
      IF lab.id IS NOT NULL THEN
        RETURN QUERY SELECT 'replay'::text, lab.id, lab.item_id, lab.kind::text, lab.created_at, NULL::text,
                            NULL::integer;
        RETURN;
      END IF;
    END IF;
    RETURN QUERY SELECT ('inactive:' || a.status)::text, NULL::bigint, a.item_id, NULL::text, NULL::timestamptz,
                        NULL::text, NULL::integer;
    RETURN;
  END IF;
  -- Lock order as in ps_queue_next (the annotator's cursor, then the item): a `next` and a submit of the same
  -- annotator (two tabs) never wait for each other in a cycle (the label trigger takes the cursor row too).
  PERFORM 1 FROM annotation_queuecursor c JOIN annotation_item i ON i.project_id = c.project_id
   WHERE i.id = a.item_id AND c.annotator_id = p_annotator FOR UPDATE OF c;
  IF a.expires_at <= p_now THEN
    RETURN QUERY SELECT 'expired'::text, NULL::bigint, a.item_id, NULL::text, NULL::timestamptz, NULL::text,
                        NULL::integer;
    RETURN;
  END IF;
  SELECT i.id, i.kind, i.state, i.route, i.n_human_labels, i.n_judge_labels, p.overlap INTO it
  FROM annotation_item i JOIN annotation_project p ON p.id = i.project_id WHERE i.id = a.item_id FOR UPDATE OF i;
  IF it.state IN ('final', 'excluded') THEN
    RETURN QUERY SELECT 'closed'::text, NULL::bigint, it.id, it.kind::text, NULL::timestamptz, NULL::text,
                        NULL::integer;
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = it.id AND l.annotator_id = p_annotator
             AND l.role = 'annotation') THEN
    RETURN QUERY SELECT 'already'::text, NULL::bigint, it.id, it.kind::text, NULL::timestamptz, NULL::text,
                        NULL::integer;
    RETURN;
  END IF;
  nh := it.n_human_labels + 1;
  BEGIN
    -- The item first, its verdict count included: the label's statement trigger (annotation_label_pages_ins) counts
    -- the item's distinct human verdicts again and updates the item only where the count differs, so a count set
    -- here with the new label in it saves a second update of the item (and its triggers) on every submit.
    UPDATE annotation_item SET
      n_human_labels = nh,
      n_leases = greatest(n_leases - 1, 0),
      source = CASE WHEN it.n_judge_labels > 0 THEN 'hybrid' ELSE 'human' END,
      state = CASE WHEN it.state NOT IN ('new', 'judged', 'routed', 'labeling', 'labeled') THEN it.state
                   WHEN nh >= it.overlap THEN 'labeled' ELSE 'labeling' END,
      n_verdicts = (SELECT count(DISTINCT x.v) FROM (
          SELECT annotation_label_verdict(l.kind, l.winner, l.thumbs_up, l.ranking) AS v
          FROM annotation_label l JOIN annotation_annotator an ON an.id = l.annotator_id
          WHERE l.item_id = it.id AND l.role = 'annotation' AND l.status = 'ok' AND an.kind = 'human'
          UNION ALL
          SELECT annotation_label_verdict(it.kind, coalesce(p_winner, ''), p_thumbs, p_ranking)
          FROM annotation_annotator an WHERE an.id = p_annotator AND an.kind = 'human') x),
      updated_at = p_now
    WHERE id = it.id;
    INSERT INTO annotation_label (item_id, annotator_id, kind, role, status, winner, strength, aspects, rationale,
                                  ranking, thumbs_up, shown_order, time_spent_ms, raw_output, idempotency_key,
                                  created_at)
    VALUES (it.id, p_annotator, it.kind, 'annotation', 'ok', coalesce(p_winner, ''), p_strength,
            coalesce(p_aspects, '{}'::jsonb), coalesce(p_rationale, ''), p_ranking, p_thumbs,
            coalesce(p_shown, '[]'::jsonb), p_time, '', p_key, now())
    RETURNING id, annotation_label.created_at INTO new_id, new_at;
  EXCEPTION WHEN unique_violation THEN  -- (the item's update is undone with the insert)
    RETURN QUERY SELECT 'key_conflict'::text, NULL::bigint, it.id, it.kind::text, NULL::timestamptz, NULL::text,
                        NULL::integer;
    RETURN;
  END;
  UPDATE annotation_assignment SET status = 'submitted', released_at = p_now WHERE id = a.id;
  RETURN QUERY SELECT 'ok'::text, new_id, it.id, it.kind::text, new_at, it.route::text, it.n_judge_labels::integer;
END $$;
