using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>The sharing engine's multimap: lookups in order, removals inside probe runs, clearing, growth, the table's end.</summary>
public class FrameMultimapTests
{
    private static List<long> ValuesOf(FrameMultimap map, int tag, ulong key)
    {
        var values = new List<long>();
        for (int slot = map.First(tag, key); slot >= 0; slot = map.Next(slot))
            values.Add(map.ValueAt(slot));
        return values;
    }

    /// <summary>Keys of tag 0 whose search starts at <paramref name="home"/>, the first <paramref name="count"/> found from 1 up.</summary>
    private static List<ulong> KeysAt(FrameMultimap map, int home, int count)
    {
        var keys = new List<ulong>();
        for (ulong k = 1; keys.Count < count; k++)
        {
            if (map.HomeSlot(0, k) == home)
                keys.Add(k);
        }

        return keys;
    }

    [Test]
    public void All_values_under_a_key_come_back_in_the_order_they_were_added()
    {
        var map = new FrameMultimap();
        map.Add(1, 0xABCD, 10);
        map.Add(2, 0xABCD, 99); // same checksum, other domain: another key
        map.Add(1, 0xABCD, 11);
        map.Add(1, 0xABCD, 12);

        Assert.That(ValuesOf(map, 1, 0xABCD), Is.EqualTo(new long[] { 10, 11, 12 }));
        Assert.That(ValuesOf(map, 2, 0xABCD), Is.EqualTo(new long[] { 99 }));
        Assert.That(map.First(1, 0xABCE), Is.EqualTo(-1));
        Assert.That(map.Count, Is.EqualTo(4));
        Assert.That(map.TryGetFirst(1, 0xABCD, out long first) && first == 10, Is.True);
    }

    [Test]
    public void A_guest_frame_packs_into_one_value_and_back()
    {
        long v = FrameMultimap.FrameValue(7, 0xFFFF_FFFEu);
        Assert.That(FrameMultimap.FrameOf(v), Is.EqualTo((7, 0xFFFF_FFFEu)));
    }

    [Test]
    public void Removing_the_middle_of_a_collision_run_keeps_the_rest_in_order_and_reachable()
    {
        var map = new FrameMultimap();
        List<ulong> keys = KeysAt(map, 5, 2); // two keys sharing one home slot: their entries interleave in one run
        map.Add(0, keys[0], 1);
        map.Add(0, keys[1], 100);
        map.Add(0, keys[0], 2);
        map.Add(0, keys[1], 200);
        map.Add(0, keys[0], 3);

        Assert.That(map.Remove(0, keys[0], 2), Is.True);

        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 1, 3 }));
        Assert.That(ValuesOf(map, 0, keys[1]), Is.EqualTo(new long[] { 100, 200 }));
        Assert.That(map.Count, Is.EqualTo(4));
    }

    [Test]
    public void Removing_the_last_of_a_collision_run_leaves_the_others()
    {
        var map = new FrameMultimap();
        List<ulong> keys = KeysAt(map, 9, 2);
        map.Add(0, keys[0], 1);
        map.Add(0, keys[1], 100);
        map.Add(0, keys[0], 2);

        Assert.That(map.Remove(0, keys[0], 2), Is.True);
        Assert.That(map.Remove(0, keys[0], 2), Is.False);

        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 1 }));
        Assert.That(ValuesOf(map, 0, keys[1]), Is.EqualTo(new long[] { 100 }));
    }

    [Test]
    public void Removing_the_first_of_a_key_puts_its_last_in_front()
    {
        var map = new FrameMultimap();
        List<ulong> keys = KeysAt(map, 3, 2);
        map.Add(0, keys[0], 1);
        map.Add(0, keys[1], 100);
        map.Add(0, keys[0], 2);
        map.Add(0, keys[0], 3);

        Assert.That(map.Remove(0, keys[0], 1), Is.True);

        // The order the engine's old index gave: the last entry takes the first one's place.
        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 3, 2 }));
        Assert.That(ValuesOf(map, 0, keys[1]), Is.EqualTo(new long[] { 100 }));

        Assert.That(map.Remove(0, keys[1], 100), Is.True);
        Assert.That(map.First(0, keys[1]), Is.EqualTo(-1));
        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 3, 2 }));
    }

    [Test]
    public void Removing_a_whole_key_and_by_predicate()
    {
        var map = new FrameMultimap();
        for (uint gfn = 0; gfn < 6; gfn++)
            map.Add(0, 0x77, FrameMultimap.FrameValue((int)(gfn % 2), gfn));
        map.Add(0, 0x78, FrameMultimap.FrameValue(1, 40));
        map.Add(0, 0x79, FrameMultimap.FrameValue(0, 41));

        map.RemoveAll(v => FrameMultimap.FrameOf(v).Guest == 1);

        Assert.That(ValuesOf(map, 0, 0x77), Is.EqualTo(new[] { FrameMultimap.FrameValue(0, 0), FrameMultimap.FrameValue(0, 2), FrameMultimap.FrameValue(0, 4) }));
        Assert.That(map.First(0, 0x78), Is.EqualTo(-1));
        Assert.That(ValuesOf(map, 0, 0x79), Is.EqualTo(new[] { FrameMultimap.FrameValue(0, 41) }));
        Assert.That(map.Count, Is.EqualTo(4));

        Assert.That(map.RemoveKey(0, 0x77), Is.EqualTo(3));
        Assert.That(map.Count, Is.EqualTo(1));
        Assert.That(map.CopyValues(0, 0x79).ToArray(), Is.EqualTo(new[] { FrameMultimap.FrameValue(0, 41) }));
    }

    [Test]
    public void Clear_empties_the_table_without_shrinking_it()
    {
        var map = new FrameMultimap();
        for (int i = 0; i < 100; i++)
            map.Add(0, (ulong)i, i);
        int capacity = map.Capacity;

        map.Clear();

        Assert.That(map.Count, Is.EqualTo(0));
        Assert.That(map.Capacity, Is.EqualTo(capacity));
        for (int i = 0; i < 100; i++)
            Assert.That(map.First(0, (ulong)i), Is.EqualTo(-1));
        map.Add(0, 5, 55);
        Assert.That(ValuesOf(map, 0, 5), Is.EqualTo(new long[] { 55 }));
        Assert.That(map.TryAddFirst(0, 5, 56), Is.False);
        Assert.That(map.TryAddFirst(0, 6, 66), Is.True);
    }

    [Test]
    public void Growth_keeps_every_entry_and_each_keys_order()
    {
        var map = new FrameMultimap();
        int before = map.Capacity;
        for (int i = 0; i < 3000; i++)
            map.Add(0, (ulong)(i % 1000), i); // each key three times, 1000 apart

        Assert.That(map.Capacity, Is.GreaterThan(before));
        Assert.That(map.Capacity, Is.GreaterThanOrEqualTo(2 * map.Count));
        Assert.That(map.Count, Is.EqualTo(3000));
        for (int k = 0; k < 1000; k++)
            Assert.That(ValuesOf(map, 0, (ulong)k), Is.EqualTo(new long[] { k, k + 1000, k + 2000 }), $"key {k}");
    }

    [Test]
    public void A_run_wraps_around_the_tables_end_and_keeps_its_order_through_removal_and_growth()
    {
        var map = new FrameMultimap();
        int last = map.Capacity - 1;
        List<ulong> keys = KeysAt(map, last, 2);
        map.Add(0, keys[0], 1); // in the last slot
        map.Add(0, keys[1], 100); // slot 0
        map.Add(0, keys[0], 2); // slot 1
        map.Add(0, keys[0], 3); // slot 2

        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 1, 2, 3 }));
        Assert.That(map.First(0, keys[0]), Is.EqualTo(last));
        Assert.That(map.Next(last), Is.EqualTo(1));

        // Removing the entry in the last slot shifts the ones past the end back across it.
        Assert.That(map.Remove(0, keys[1], 100), Is.True);
        Assert.That(map.Remove(0, keys[0], 2), Is.True);
        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 1, 3 }));
        Assert.That(map.First(0, keys[0]), Is.EqualTo(last));
        Assert.That(map.Next(last), Is.EqualTo(0));

        map.Add(0, keys[0], 4);
        int capacity = map.Capacity;
        for (int i = 0; map.Capacity == capacity; i++)
            map.Add(1, (ulong)i, -i);

        Assert.That(ValuesOf(map, 0, keys[0]), Is.EqualTo(new long[] { 1, 3, 4 }));
    }
}
