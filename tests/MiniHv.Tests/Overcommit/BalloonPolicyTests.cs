using MiniHv.Hv.Overcommit;

namespace MiniHv.Tests.Overcommit;

/// <summary>The balloon targets: proportional share, the idle-memory tax, the limits, and giving frames back.</summary>
public class BalloonPolicyTests
{
    private static BalloonClient Client(long frames, double active, long target = 0, long max = 100_000, long shares = 1)
        => new(shares, frames, active, target, max);

    [Test]
    public void EqualGuestsEquallyActive_GiveEqually()
    {
        long[] targets = BalloonPolicy.Retarget([Client(1000, 0.5), Client(1000, 0.5), Client(1000, 0.5), Client(1000, 0.5)], 400);

        Assert.That(targets, Is.EqualTo(new long[] { 100, 100, 100, 100 }));
    }

    [Test]
    public void WithNoTax_TheGuestHoldingMoreThanItsShareGivesUntilBothHoldTheSame()
    {
        long[] targets = BalloonPolicy.Retarget([Client(3000, 1), Client(1000, 1)], 2400, taxRate: 0);

        Assert.Multiple(() =>
        {
            Assert.That(targets.Sum(), Is.EqualTo(2400));
            Assert.That(3000 - targets[0], Is.EqualTo(1000 - targets[1]).Within(20), "both end with the same frames");
        });
    }

    [Test]
    public void TheIdleTax_MakesTheIdleGuestGiveBeforeTheActiveOne()
    {
        // Same size; one uses 10% of what it holds, the other all of it.
        long[] targets = BalloonPolicy.Retarget([Client(1000, 0.1), Client(1000, 1.0)], 600);

        Assert.Multiple(() =>
        {
            Assert.That(targets[0], Is.EqualTo(600), "at 75% tax, an idle frame costs four active ones: the idle guest gives all 600");
            Assert.That(targets[1], Is.Zero);
        });
    }

    [Test]
    public void WithoutTheTax_IdlenessDoesNotMatter()
    {
        long[] targets = BalloonPolicy.Retarget([Client(1000, 0.1), Client(1000, 1.0)], 600, taxRate: 0);

        Assert.That(targets, Is.EqualTo(new long[] { 300, 300 }));
    }

    [Test]
    public void TheTaxedGuest_GivesIdleFramesUntilItCostsWhatTheActiveGuestCosts_ThenBothGive()
    {
        // Guest 0: 1000 frames, 200 active (cost 200 + 4 x 800 = 3400). Guest 1: 600 frames, all active (cost 600).
        long[] targets = BalloonPolicy.Retarget([Client(1000, 0.2), Client(600, 1.0)], 1000);
        double cost0 = 200 + 4 * (800 - targets[0]);
        double cost1 = 600 - targets[1];

        Assert.Multiple(() =>
        {
            Assert.That(targets.Sum(), Is.EqualTo(1000));
            Assert.That(targets[0], Is.GreaterThan(700), "700 idle frames bring its cost down to 600");
            Assert.That(targets[1], Is.GreaterThan(0), "then the active guest gives too");
            Assert.That(cost0, Is.EqualTo(cost1).Within(16), "until the two cost the same per share");
        });
    }

    [Test]
    public void MoreShares_GiveLess()
    {
        long[] targets = BalloonPolicy.Retarget([Client(1000, 1, shares: 3), Client(1000, 1, shares: 1)], 800, taxRate: 0);

        Assert.That(targets[0], Is.LessThan(targets[1]));
        Assert.That((1000 - targets[0]) / (double)(1000 - targets[1]), Is.EqualTo(3).Within(0.2), "frames held in proportion to shares");
    }

    [Test]
    public void ABalloonAtItsMost_IsPassedOver_AndWhatNoBalloonCanTakeIsLeft()
    {
        long[] targets = BalloonPolicy.Retarget([Client(1000, 0.1, max: 100), Client(1000, 1, max: 200)], 1000);

        Assert.That(targets, Is.EqualTo(new long[] { 100, 200 }), "300 of the 1000 wanted: swap takes the rest");
    }

    [Test]
    public void GivingBack_GoesToTheMostActiveGuestFirst_AndNoTargetGoesBelowZero()
    {
        long[] targets = BalloonPolicy.Retarget([Client(600, 0.1, target: 400), Client(600, 1.0, target: 300)], -500);

        Assert.Multiple(() =>
        {
            Assert.That(targets[1], Is.Zero, "the active guest gets all its frames back");
            Assert.That(targets[0], Is.EqualTo(200));
        });
        Assert.That(BalloonPolicy.Retarget([Client(600, 0.5, target: 100)], -500), Is.EqualTo(new long[] { 0 }));
    }

    [Test]
    public void ATaxRateOfOneOrMore_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BalloonPolicy.Retarget([Client(10, 1)], 1, taxRate: 1));
    }
}
