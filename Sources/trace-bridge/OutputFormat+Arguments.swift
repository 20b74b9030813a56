import Agent
import ArgumentParser

// The output choices are the agent library's; the command line parses them.
extension OutputFormat: ExpressibleByArgument {}
extension ColourChoice: ExpressibleByArgument {}
