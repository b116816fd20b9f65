// `verity train RECIPE.lua [--run-dir DIR] [--resume] [--set key=value ...]`: GRPO-family training
// from a Lua recipe, and `verity sft RECIPE.lua` (the same for an `algorithm = "sft"` recipe).
// Parsing and printing only; the loop is VerityTraining.Trainer.
import ArgumentParser
import Foundation
import VerityLua
import VerityTraining
import VerityTensor
import VerityDistributed

/// The flags `verity train` and `verity sft` share.
struct TrainingFlags: ParsableArguments {
    @Argument(help: "The recipe (.lua).") var recipe: String
    @Option(name: .customLong("run-dir"), help: "The run folder (default: runs/<recipe name>).") var runDir: String?
    @Flag(help: "Continue the run in --run-dir from its latest checkpoint.") var resume = false
    @Option(name: .customLong("set"), help: "Override a recipe key, e.g. --set rollout.n=4 (repeatable).")
    var overrides: [String] = []
    @Option(
        name: .customLong("max-steps"), help: "Stop after this many steps in this process (the run can be resumed).")
    var maxSteps: Int?
    @Option(help: "Threads (1 to the number of cores; under mpirun, default: the cores shared by the ranks on this machine).")
    var threads: Int?
    @Option(
        name: .customLong("memory-limit-gb"),
        help: "Refuse a run whose estimated peak is over this many GiB (default: the memory available now).")
    var memoryLimitGB: Double?

    func validate() throws {
        if let memoryLimitGB, !(memoryLimitGB > 0) || !memoryLimitGB.isFinite {
            throw ValidationError("--memory-limit-gb \(memoryLimitGB): expected a number of GiB above 0")
        }
        if let threads, !(1...max(1, Parallel.cores)).contains(threads) {
            throw ValidationError("--threads \(threads): expected 1 to \(Parallel.cores) (the cores of this machine)")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps \(maxSteps): expected at least 1") }
    }

    /// Runs the job: one process, or one rank of an MPI job (`mpirun -np N verity train ...`, `srun verity train ...`).
    /// A rank that fails prints its own message and ends the whole job (MPI_Abort), so no rank waits for it forever.
    func execute(sft: Bool) throws {
        let comm = try Communicators.world()
        guard comm.size > 1 else { return try execute(sft: sft, comm: comm) }
        do {
            try execute(sft: sft, comm: comm)
            Communicators.finalize()
        } catch let e as ExitCode {
            Communicators.finalize()
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: rank \(comm.rank) of \(comm.size): \(error)\n".utf8))
            comm.abort(code: 1)
        }
    }

    /// Loads the recipe (`sft`: it must be an SFT recipe; otherwise it must not be), trains, prints the summary.
    func execute(sft: Bool, comm: Communicator) throws {
        if sft && comm.size > 1 {
            throw ValidationError("verity sft runs in one process; data-parallel SFT under mpirun is not built yet")
        }
        let loaded = try RecipeLoader.load(path: recipe, overrides: overrides, services: try cliHostServices())
        for w in loaded.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        if sft != (loaded.recipe.algorithm == .sft) {
            throw ValidationError(
                sft
                    ? "\(recipe): algorithm = \"\(loaded.recipe.algorithm.rawValue)\" is not \"sft\"; run it with `verity train`"
                    : "\(recipe): algorithm = \"sft\"; run it with `verity sft`")
        }
        // The memory plan, before anything is written: a run that cannot fit is refused with the settings to change.
        let plan = try MemoryPlan.forRecipe(loaded)
        if comm.isRoot { print(plan.summaryLine) }
        // Each rank holds the whole plan; ranks on one machine share its memory.
        let local = Communicators.localSize()
        if let limit = memoryLimitGB.map({ $0 * 1_073_741_824 }) {
            try plan.check(limit: limit, source: "given by --memory-limit-gb", recipe: loaded.recipe)
        } else if let available = MemoryPlan.availableBytes() {
            try plan.check(
                limit: available / Double(local),
                source: local > 1
                    ? "available now (MemAvailable) shared by \(local) ranks on this machine"
                    : "available now (MemAvailable)", recipe: loaded.recipe)
        }
        let dir = URL(fileURLWithPath: runDir ?? "runs/\(loaded.recipe.name)")
        var options = TrainerOptions(runDirectory: dir)
        options.resume = resume
        options.threads = threads ?? max(1, Parallel.cores / local)
        options.maxSteps = maxSteps
        options.memoryPlanBytes = plan.totalBytes
        options.communicator = comm
        if !comm.isRoot { options.log = { _ in } }
        let trainer = try Trainer(loaded: loaded, options: options)
        // Ctrl-C: finish the current step, write a checkpoint, exit 130 (a second Ctrl-C exits at once). Under MPI a
        // rank takes these as the same request, and the ranks agree on the step to stop after: SIGUSR1 (Open MPI's
        // mpirun forwards it to every rank; Scripts/mpi/verity-mpirun turns Ctrl-C into it), SIGTERM (Slurm's scancel and
        // time limit) and SIGCONT under mpirun (its own SIGINT handling: SIGCONT at once, SIGTERM and SIGKILL each
        // odls_base_sigkill_timeout seconds later, and mpirun's exit status is then 1 whatever the ranks return).
        var stopSignals = [SIGINT]
        if comm.size > 1 {
            stopSignals += [SIGTERM, SIGUSR1]
            if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil { stopSignals.append(SIGCONT) }
        }
        let sources = stopSignals.map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if sig == SIGINT && trainer.stopRequest.isSet { _exit(130) }
                if !trainer.stopRequest.isSet && comm.isRoot {
                    FileHandle.standardError.write(
                        Data(
                            (comm.size > 1
                                ? "\nstop requested: the ranks finish the current step, then rank 0 writes a checkpoint\n"
                                : "\ninterrupt: finishing the current step, then writing a checkpoint (Ctrl-C again to quit now)\n")
                                .utf8))
                }
                trainer.stopRequest.set()
                (comm as? MPICommunicator)?.requestStop()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try trainer.run()
        } catch let e as TrainingInterrupted {
            FileHandle.standardError.write(Data("\(e)\n".utf8))
            throw ExitCode(130)
        }
        guard comm.isRoot else { return }
        print("run folder: \(dir.path)")
        // The run's last lines: its summary (steps, seconds, eval before and after), when it reached its last step.
        if trainer.step == loaded.recipe.steps,
            let data = try? Data(contentsOf: dir.appendingPathComponent("summary.json")),
            let summary = try? JSONDecoder().decode(RunSummary.self, from: data)
        {
            for line in summary.lines { print(line) }
        }
    }
}

/// `verity train RECIPE.lua`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a policy with GRPO, Dr.GRPO, RLOO, REINFORCE++ or PPO from a Lua recipe.")

    @OptionGroup var flags: TrainingFlags

    func run() throws { try flags.execute(sft: false) }
}

/// `verity sft RECIPE.lua`.
struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Supervised fine-tuning (prompt masked, packed rows) from an `algorithm = \"sft\"` recipe.")

    @OptionGroup var flags: TrainingFlags

    func run() throws { try flags.execute(sft: true) }
}
