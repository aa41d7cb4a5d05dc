-- A process of an earlier version still running on the same file (the desktop app and a
-- headless server upgraded one after the other) inserts texts without `pending`, and knows
-- nothing of the batch indexing: such a text is indexed at once, as that version did. Without
-- this its text would count as indexed, stay out of the index, and its pruning would delete
-- index entries that were never made, which corrupts an external-content FTS5 table.
CREATE TRIGGER event_texts_insert AFTER INSERT ON event_texts WHEN new.pending IS NULL BEGIN
    INSERT INTO event_texts_search (rowid, search) VALUES (new.id, new.search);
END;
