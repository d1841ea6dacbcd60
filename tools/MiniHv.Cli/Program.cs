namespace MiniHv.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("minihv: not built yet");
        return 1;
    }
}
