// Worker runs are CPU-heavy on a 2-core machine: one at a time keeps their timings meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
