// swift-tools-version:6.2
import PackageDescription

/// One set of Swift settings for every target: Swift 6 language mode (strict concurrency) everywhere.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "trace-bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trace-bridge", targets: ["trace-bridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C only: links Debian's librabbitmq (rabbitmq-c 0.11) and shims what Swift cannot call.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // The one importer of CRabbitMQ.
        .target(
            name: "RabbitMQ",
            dependencies: ["CRabbitMQ", "TraceCore"],
            swiftSettings: swiftSettings
        ),
        // zlib, for gzip-compressed OTLP/HTTP bodies and zlib-compressed message bodies.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Decompression of message bodies kombu compressed (`compression` header): pure computation over Debian's C
        // libraries, in a target of its own so that it is their one importer and TraceCore imports only Swift.
        // Debian's libbz2-dev ships no pkg-config file, so CBzip2 has none (the header and library are on the
        // default paths).
        .systemLibrary(name: "CBzip2", providers: [.apt(["libbz2-dev"])]),
        .systemLibrary(name: "CLZMA", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CBrotli", pkgConfig: "libbrotlidec", providers: [.apt(["libbrotli-dev"])]),
        .target(
            name: "BodyDecompression",
            dependencies: ["CZlib", "CBzip2", "CLZMA", "CZstd", "CBrotli"],
            swiftSettings: swiftSettings
        ),
        // OTLP export: gRPC and HTTP transports, retries per the OTLP specification, batching with acknowledgement.
        .target(
            name: "OTLPExport",
            dependencies: [
                "TraceCore", "OTLPProto", "CZlib",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Generated once from the official OpenTelemetry protos (scripts/generate-otlp-proto.sh).
        .target(
            name: "OTLPProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/README.md"],
            swiftSettings: swiftSettings
        ),
        // Pure core: decode bus events, extract context, synthesize spans, encode OTLP. No sockets, NIO or logging.
        .target(
            name: "TraceCore",
            dependencies: [
                "OTLPProto",
                "BodyDecompression",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent's own HTTP listener: /metrics (Prometheus), /healthz, /readyz, /traces.
        .target(
            name: "AgentHTTP",
            dependencies: [
                "TraceCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent as a library: sources (a broker, memory) in, one synthesis, sinks (OTLP, file, terminal,
        // memory) out, acknowledgements back. The command line only parses and hands it a configuration.
        .target(
            name: "Agent",
            dependencies: [
                "TraceCore",
                "RabbitMQ",
                "OTLPExport",
                "AgentHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "trace-bridge",
            dependencies: [
                "Agent",
                "TraceCore",
                "RabbitMQ",
                "OTLPExport",
                "AgentHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fuzzing (tools/fuzz.sh): one libFuzzer executable, the decoder chosen by TB_FUZZ_TARGET, built with
        // -sanitize=fuzzer -DFUZZING; a normal build runs a harness over the seeds and regression inputs (make test).
        .target(
            name: "FuzzSupport",
            dependencies: ["TraceCore", "RabbitMQ", "BodyDecompression",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Fuzz/FuzzSupport",
            swiftSettings: swiftSettings
        ),
        .target(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .executableTarget(name: "FuzzDecoders", dependencies: ["FuzzSupport", "CLibFuzzer"], path: "Fuzz/FuzzDecoders",
                          swiftSettings: swiftSettings),
        // The replay benchmark (Benchmarks/replay_export.sh): stage by stage, with heap allocations counted by a
        // malloc that only this executable links.
        .target(name: "CMallocCounter", path: "Benchmarks/MallocCounter"),
        .executableTarget(
            name: "trace-bridge-bench",
            dependencies: ["TraceCore", "OTLPProto", "CMallocCounter"],
            path: "Benchmarks/ReplayBench",
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: the repository's files, the built CLI, child processes.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TraceCoreTests",
            dependencies: ["TraceCore", "BodyDecompression", "OTLPProto", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTLPExportTests",
            dependencies: ["OTLPExport", "TraceCore", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        // The whole agent with in-memory sources and sinks: acknowledgement order, several buses, shutdown,
        // readiness, without a broker.
        .testTarget(
            name: "AgentTests",
            dependencies: ["Agent", "AgentHTTP", "RabbitMQ", "TraceCore", "TestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RabbitMQTests",
            dependencies: ["RabbitMQ", "TraceCore", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        // Real rabbitmq-server (tools/broker.sh) and real oslo.messaging (tools/scenario/driver.py).
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["TraceCore", "TestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
